package probes

// kindInfo is one event kind in the registry: everything the Go side knows
// about it. The registry is the only Go list of event kinds; Kind.String,
// ParseKind, AllKinds, Decode, Record.Event and Record.Clone all read it, and
// registry_test.go checks it against the compiled object (enum event_kind,
// union any_event, the programs). See the package documentation for the
// checklist of adding an event.
type kindInfo struct {
	kind Kind
	// name is the short name (command lines, JSON) and the member of
	// union any_event in bpf/tracer.c.
	name string
	// cStruct is the record's struct in bpf/events.h.
	cStruct string
	// size is sizeof(cStruct): the shortest raw record Decode accepts.
	size int
	// event returns a pointer to the kind's member of a Record; clone a copy
	// of it.
	event, clone func(*Record) Event
	// decode fills the kind's member of a Record from a raw record of at
	// least size bytes.
	decode func(raw []byte, r *Record)
}

// registry lists every event kind in AllKinds order.
var registry = []kindInfo{
	entry(KindExec, "exec", "exec_event", execSize, func(r *Record) *Exec { return &r.Exec }, decodeExec),
	entry(KindExit, "exit", "exit_event", exitSize, func(r *Record) *Exit { return &r.Exit }, decodeExit),
	entry(KindOpen, "open", "open_event", openSize, func(r *Record) *Open { return &r.Open }, decodeOpen),
	entry(KindConnect, "connect", "connect_event", connectSize, func(r *Record) *Connect { return &r.Connect }, decodeConnect),
	entry(KindSched, "sched", "sched_event", schedSize, func(r *Record) *SchedState { return &r.Sched }, decodeSched),
}

// entry builds a kindInfo from the Record member of a kind and its decoder,
// which sees the record after its header was decoded.
func entry[T any, P interface {
	*T
	Event
}](k Kind, name, cStruct string, size int, member func(*Record) P, decode func([]byte, P)) kindInfo {
	return kindInfo{
		kind:    k,
		name:    name,
		cStruct: cStruct,
		size:    size,
		event:   func(r *Record) Event { return member(r) },
		clone: func(r *Record) Event {
			v := *member(r)
			return P(&v)
		},
		decode: func(raw []byte, r *Record) {
			e := member(r)
			decodeHeader(raw, e.Hdr())
			decode(raw, e)
		},
	}
}

// lookup returns the registry entry of k, or nil.
func lookup(k Kind) *kindInfo {
	for i := range registry {
		if registry[i].kind == k {
			return &registry[i]
		}
	}
	return nil
}

func registryKinds() []Kind {
	out := make([]Kind, len(registry))
	for i, e := range registry {
		out[i] = e.kind
	}
	return out
}

func registryNames() []string {
	out := make([]string, len(registry))
	for i, e := range registry {
		out[i] = e.name
	}
	return out
}
