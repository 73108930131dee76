package probes

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Record sizes in bytes, equal to sizeof() of the structs in bpf/events.h.
// Perf samples may carry up to 7 bytes of trailing padding; Decode ignores it.
const (
	headerSize  = 40
	execSize    = 344
	exitSize    = 48
	openSize    = 304
	connectSize = 88
	schedSize   = 56
)

// ErrTruncated is wrapped by Decode's error when a record is shorter than its
// kind's layout.
var ErrTruncated = errors.New("truncated record")

// ErrUnknownKind is wrapped by Decode's error when the record's kind is not
// one this package knows.
var ErrUnknownKind = errors.New("unknown event kind")

// Record holds one decoded event of any kind, so that a reader can reuse a
// single value and decode without allocating. Only the member named by Kind
// is valid after Decode.
type Record struct {
	Kind    Kind
	Exec    Exec
	Exit    Exit
	Open    Open
	Connect Connect
	Sched   SchedState
}

// Event returns a pointer to the valid member (no copy, no allocation), or
// nil when Kind is unknown. The pointer is only valid until the next Decode
// into r.
func (r *Record) Event() Event {
	if e := lookup(r.Kind); e != nil {
		return e.event(r)
	}
	return nil
}

// Clone returns a copy of the valid member that outlives r.
func (r *Record) Clone() Event {
	if e := lookup(r.Kind); e != nil {
		return e.clone(r)
	}
	return nil
}

var le = binary.LittleEndian

// Decode parses one raw record, as the ring buffer or perf buffer delivers
// it, into r. It does not allocate on success. A record shorter than its
// layout yields an error wrapping ErrTruncated; an unknown kind one wrapping
// ErrUnknownKind. r is left unchanged on error.
func Decode(raw []byte, r *Record) error {
	if len(raw) < 4 {
		return fmt.Errorf("decode: %d bytes, need at least 4 for the kind: %w", len(raw), ErrTruncated)
	}
	kind := Kind(le.Uint32(raw))
	e := lookup(kind)
	if e == nil {
		return fmt.Errorf("decode: kind %d: %w", uint32(kind), ErrUnknownKind)
	}
	if len(raw) < e.size {
		return fmt.Errorf("decode %s: %d bytes, need %d: %w", kind, len(raw), e.size, ErrTruncated)
	}
	r.Kind = kind
	e.decode(raw, r)
	return nil
}

func decodeExec(raw []byte, e *Exec) {
	e.PPID = le.Uint32(raw[40:])
	e.UID = le.Uint32(raw[44:])
	e.GID = le.Uint32(raw[48:])
	e.Depth = le.Uint32(raw[52:])
	e.StartNs = le.Uint64(raw[56:])
	e.DepthTruncated = le.Uint32(raw[64:])&uint32(tracerExecFlagEXEC_DEPTH_TRUNCATED) != 0
	copy(e.ParentComm[:], raw[72:88])
	copy(e.Filename[:], raw[88:344])
}

func decodeExit(raw []byte, e *Exit) {
	e.Code = int64(le.Uint64(raw[40:]))
}

func decodeOpen(raw []byte, e *Open) {
	e.Inode = le.Uint64(raw[40:])
	copy(e.Name[:], raw[48:304])
}

func decodeConnect(raw []byte, e *Connect) {
	e.Family = le.Uint16(raw[40:])
	sport := le.Uint16(raw[42:])
	dport := le.Uint16(raw[44:])
	e.Ret = int32(le.Uint32(raw[48:]))
	var src, dst netip.Addr
	if e.Family == AFInet {
		src = netip.AddrFrom4([4]byte(raw[56:60]))
		dst = netip.AddrFrom4([4]byte(raw[72:76]))
	} else {
		src = netip.AddrFrom16([16]byte(raw[56:72]))
		dst = netip.AddrFrom16([16]byte(raw[72:88]))
	}
	e.Src = netip.AddrPortFrom(src, sport)
	e.Dst = netip.AddrPortFrom(dst, dport)
}

func decodeSched(raw []byte, e *SchedState) {
	e.State = le.Uint64(raw[40:])
	e.Report = le.Uint32(raw[48:])
	e.Preempt = le.Uint32(raw[52:]) != 0
}

func decodeHeader(raw []byte, h *Header) {
	_ = raw[headerSize-1]
	h.Kind = Kind(le.Uint32(raw[0:]))
	h.Core = Core(le.Uint32(raw[4:]))
	h.Ktime = le.Uint64(raw[8:])
	h.PID = le.Uint32(raw[16:])
	h.TGID = le.Uint32(raw[20:])
	copy(h.Comm[:], raw[24:40])
}

// DecodeEvent decodes raw into a newly allocated event.
func DecodeEvent(raw []byte) (Event, error) {
	var r Record
	if err := Decode(raw, &r); err != nil {
		return nil, err
	}
	return r.Clone(), nil
}
