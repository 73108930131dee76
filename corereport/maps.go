package corereport

import (
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"
	"weak"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// This file predicts map creation: the map's type (enum bpf_map_type), its
// BPF_F_* creation flags (the kernel's anonymous UAPI enum that holds
// BPF_F_NO_PREALLOC, and the per-type rules every kernel applies), the
// special fields of its BTF value (bpf_spin_lock, bpf_timer, ...) and a
// max_entries that user space sets at run time.

// checkMap runs the map checks on map name of a program.
func (k *kernelFeatures) checkMap(name string, m *ebpf.MapSpec, fallback ebpf.MapType) []Finding {
	out := []Finding{k.checkMapType(name, m.Type, fallback)}
	if m.InnerMap != nil {
		out = append(out, k.checkMapType(name+" (inner map)", m.InnerMap.Type, ebpf.UnspecifiedMap))
	}
	if f, ok := k.checkMapFlags(name, m); ok {
		out = append(out, f)
	}
	out = append(out, k.checkMapBTF(name, m)...)
	if f, ok := checkMapSize(name, m); ok {
		out = append(out, f)
	}
	return out
}

func (k *kernelFeatures) checkMapType(name string, typ, fallback ebpf.MapType) Finding {
	f := Finding{Check: CheckMapType, Subject: "map " + name, Stage: StageLoad, Verdict: Loads}
	if k.mapTypes == nil {
		return missingEnum(CheckMapType, f.Subject, "bpf_map_type")
	}
	if _, ok := k.mapTypes[uint64(typ)]; ok {
		return f
	}
	if fallback != ebpf.UnspecifiedMap {
		if _, ok := k.mapTypes[uint64(fallback)]; ok {
			f.Detail = fmt.Sprintf("no %s in this kernel; the loader falls back to %s", typ, fallback)
			return f
		}
	}
	f.Verdict = Fails
	f.Detail = fmt.Sprintf("map %s: type %s (%d) is not in this kernel's enum bpf_map_type", name, typ, uint32(typ))
	return f
}

// The BPF_F_* map creation flags (UAPI bit positions).
const (
	mapFNoPrealloc  = 1 << 0
	mapFNoCommonLRU = 1 << 1
	mapFNumaNode    = 1 << 2
	mapFMmapable    = 1 << 10
)

// mapFlagNames names the map creation flags as the UAPI spells them, for
// flags a kernel does not know (its own enum names the others).
var mapFlagNames = []string{
	"BPF_F_NO_PREALLOC", "BPF_F_NO_COMMON_LRU", "BPF_F_NUMA_NODE", "BPF_F_RDONLY", "BPF_F_WRONLY",
	"BPF_F_STACK_BUILD_ID", "BPF_F_ZERO_SEED", "BPF_F_RDONLY_PROG", "BPF_F_WRONLY_PROG", "BPF_F_CLONE",
	"BPF_F_MMAPABLE", "BPF_F_PRESERVE_ELEMS", "BPF_F_INNER_MAP", "BPF_F_LINK", "BPF_F_PATH_FD",
	"BPF_F_VTYPE_BTF_OBJ_FD", "BPF_F_TOKEN_FD", "BPF_F_SEGV_ON_FAULT", "BPF_F_NO_USER_CONV",
}

func mapFlagName(bit int) string {
	if bit < len(mapFlagNames) {
		return mapFlagNames[bit]
	}
	return fmt.Sprintf("flag bit %d", bit)
}

// checkMapFlags checks the creation flags of map name: every flag must be
// one the kernel knows, and the map's type must take it. The per-type rules
// are those every kernel from 5.10 applies at map creation
// (array_map_alloc_check, htab_map_alloc_check, trie_alloc,
// bpf_local_storage_map_alloc_check, ringbuf_map_alloc).
func (k *kernelFeatures) checkMapFlags(name string, m *ebpf.MapSpec) (Finding, bool) {
	if m.Flags == 0 {
		return Finding{}, false
	}
	f := Finding{Check: CheckMapFlags, Subject: "map " + name + " flags", Stage: StageLoad, Verdict: Loads}
	if k.mapFlags == nil {
		f.Verdict, f.Detail = Unknown, "the kernel's BTF has no map flags enum (the one holding BPF_F_NO_PREALLOC)"
		return f, true
	}
	for flags := uint64(m.Flags); flags != 0; flags &= flags - 1 {
		bit := bits.TrailingZeros64(flags)
		if _, ok := k.mapFlags[1<<bit]; !ok {
			f.Verdict = Fails
			f.Detail = fmt.Sprintf("map %s: flag %s (%#x) is not in this kernel's map flags", name, mapFlagName(bit), uint64(1)<<bit)
			return f, true
		}
	}
	if why := mapFlagRule(m.Type, m.Flags); why != "" {
		f.Verdict, f.Detail = Fails, fmt.Sprintf("map %s: %s", name, why)
	}
	return f, true
}

// mapFlagRule returns why a map of type typ cannot be created with flags,
// by the per-type rules every kernel applies; "" when none objects.
func mapFlagRule(typ ebpf.MapType, flags uint32) string {
	has := func(f uint32) bool { return flags&f != 0 }
	switch {
	case has(mapFMmapable) && typ != ebpf.Array && typ != ebpf.Arena:
		return fmt.Sprintf("BPF_F_MMAPABLE is for array (and arena) maps, not %s", typ)
	case typ == ebpf.Arena && !has(mapFMmapable):
		return "an arena map needs BPF_F_MMAPABLE"
	case has(mapFNoPrealloc) && (typ == ebpf.Array || typ == ebpf.PerCPUArray):
		return fmt.Sprintf("%s maps are always preallocated: BPF_F_NO_PREALLOC is refused", typ)
	case typ == ebpf.LPMTrie && !has(mapFNoPrealloc):
		return "an LPM trie needs BPF_F_NO_PREALLOC"
	case (typ == ebpf.SkStorage || typ == ebpf.InodeStorage || typ == ebpf.TaskStorage || typ == ebpf.CgroupStorage) && !has(mapFNoPrealloc):
		return fmt.Sprintf("%s maps need BPF_F_NO_PREALLOC", typ)
	case has(mapFNoCommonLRU) && typ != ebpf.LRUHash && typ != ebpf.LRUCPUHash:
		return fmt.Sprintf("BPF_F_NO_COMMON_LRU is for LRU hash maps, not %s", typ)
	case has(mapFNoPrealloc) && (typ == ebpf.LRUHash || typ == ebpf.LRUCPUHash):
		return "LRU hash maps are always preallocated: BPF_F_NO_PREALLOC is refused"
	case typ == ebpf.RingBuf && flags&^mapFNumaNode != 0:
		return "a ring buffer takes no flag but BPF_F_NUMA_NODE"
	}
	return ""
}

// mapFlagsMemo holds each kernel BTF's map flags: finding the anonymous
// enum walks every type (about a second on first use of a spec).
var mapFlagsMemo sync.Map // weak.Pointer[btf.Spec] -> map[uint64]string

// mapFlagValues returns the map creation flags kernel knows: the anonymous
// enum holding BPF_F_NO_PREALLOC, value to name; nil when there is none.
func mapFlagValues(kernel *btf.Spec) map[uint64]string {
	key := weak.Make(kernel)
	if v, ok := mapFlagsMemo.Load(key); ok {
		return v.(map[uint64]string)
	}
	var out map[uint64]string
	for t, err := range kernel.All() {
		if err != nil {
			break
		}
		e, ok := t.(*btf.Enum)
		if !ok || e.Name != "" || len(e.Values) == 0 || !hasEnumValue(e, "BPF_F_NO_PREALLOC") {
			continue
		}
		out = map[uint64]string{}
		for _, v := range e.Values {
			if strings.HasPrefix(v.Name, "BPF_F_") {
				out[v.Value] = v.Name
			}
		}
		break
	}
	if _, loaded := mapFlagsMemo.LoadOrStore(key, out); !loaded {
		runtime.AddCleanup(kernel, func(k weak.Pointer[btf.Spec]) { mapFlagsMemo.Delete(k) }, key)
	}
	return out
}

func hasEnumValue(e *btf.Enum, name string) bool {
	for _, v := range e.Values {
		if v.Name == name {
			return true
		}
	}
	return false
}

// sizedByKernel are the map types whose max_entries 0 is what the kernel
// wants (local and inode/task/socket storage) or what cilium/ebpf fills in
// (a perf event array gets one entry per possible CPU).
var sizedByKernel = map[ebpf.MapType]bool{
	ebpf.PerfEventArray: true, ebpf.CGroupStorage: true, ebpf.PerCPUCGroupStorage: true,
	ebpf.SkStorage: true, ebpf.InodeStorage: true, ebpf.TaskStorage: true, ebpf.CgroupStorage: true,
}

// checkMapSize reports a map whose max_entries is 0 in the object: its
// loader sets the size at run time (libbpf's bpf_map__set_max_entries), so
// the object alone cannot be loaded and no kernel decides it.
func checkMapSize(name string, m *ebpf.MapSpec) (Finding, bool) {
	if m.MaxEntries != 0 || sizedByKernel[m.Type] {
		return Finding{}, false
	}
	return Finding{Check: CheckMapSize, Subject: "map " + name + " size", Verdict: Unknown, Stage: StageLoad,
		Detail: NeedsInput + "map " + name + " has max_entries 0 in the object: set by user space before load (loaded as is, map creation fails with EINVAL)"}, true
}

// specialField is a kernel-managed field of a map value: the kernel finds
// it in the value's BTF by its struct name (or a kptr type tag) once it
// knows it, and then restricts the map types it may live in.
type specialField struct {
	// name is the struct's name (or the type tag).
	name string
	// allowed are the map types the kernel creates with the field; nil
	// when the rule is not predicted.
	allowed []ebpf.MapType
	// since is the first kernel that knows the field.
	since string
}

// specialFields are the special fields of map values, by struct name or
// type tag; allowed as map_check_btf has them.
var specialFields = map[string]specialField{
	"bpf_spin_lock": {name: "bpf_spin_lock", since: "5.1", allowed: []ebpf.MapType{ebpf.Hash, ebpf.Array, ebpf.CGroupStorage,
		ebpf.SkStorage, ebpf.InodeStorage, ebpf.TaskStorage, ebpf.CgroupStorage}},
	"bpf_timer":      {name: "bpf_timer", since: "5.15", allowed: []ebpf.MapType{ebpf.Hash, ebpf.LRUHash, ebpf.Array}},
	"bpf_wq":         {name: "bpf_wq", since: "6.10", allowed: []ebpf.MapType{ebpf.Hash, ebpf.LRUHash, ebpf.Array}},
	"bpf_list_head":  {name: "bpf_list_head", since: "6.2"},
	"bpf_rb_root":    {name: "bpf_rb_root", since: "6.3"},
	"bpf_refcount":   {name: "bpf_refcount", since: "6.4"},
	"kptr":           {name: "kptr", since: "5.19"},
	"kptr_untrusted": {name: "kptr_untrusted", since: "6.4"},
	"percpu_kptr":    {name: "percpu_kptr", since: "6.7"},
}

// kptrStruct is the kernel type whose presence says a kernel knows kptr
// type tags in map values (both came in 5.19).
const kptrStruct = "btf_field_kptr"

// checkMapBTF checks the special fields of map name's BTF value: a kernel
// that does not know one treats it as plain data (the helpers and kfuncs
// that use it are checked on their own); one that knows it creates the
// map only for the types map_check_btf allows.
func (k *kernelFeatures) checkMapBTF(name string, m *ebpf.MapSpec) []Finding {
	var out []Finding
	for _, sf := range valueSpecialFields(m.Value) {
		f := Finding{Check: CheckMapBTF, Subject: "map " + name + " " + sf.name, Stage: StageLoad, Verdict: Loads}
		known := k.hasStruct(sf.name)
		if strings.Contains(sf.name, "kptr") {
			known = k.hasStruct(kptrStruct) || k.hasStruct("btf_field")
		}
		switch {
		case !known:
			f.Detail = fmt.Sprintf("this kernel does not know %s (came in %s): map creation takes it as plain data", sf.name, sf.since)
		case sf.allowed == nil:
			f.Verdict = Unknown
			f.Detail = fmt.Sprintf("map %s holds %s: which map types take it is not predicted", name, sf.name)
		case !containsType(sf.allowed, m.Type):
			f.Verdict = Fails
			f.Detail = fmt.Sprintf("map %s: a %s map cannot hold %s (map_check_btf)", name, m.Type, sf.name)
		}
		out = append(out, f)
	}
	return out
}

func containsType(ts []ebpf.MapType, t ebpf.MapType) bool {
	return slices.Contains(ts, t)
}

// valueSpecialFields returns the special fields in a map value's BTF
// (structs, their nested structs and arrays, a datasec's variables), each
// once.
func valueSpecialFields(value btf.Type) []specialField {
	var out []specialField
	seen := map[string]bool{}
	var walk func(t btf.Type, depth int)
	walk = func(t btf.Type, depth int) {
		if t == nil || depth > 16 {
			return
		}
		switch x := t.(type) {
		case *btf.Struct:
			if sf, ok := specialFields[x.Name]; ok && !seen[sf.name] {
				seen[sf.name] = true
				out = append(out, sf)
				return
			}
			for _, m := range x.Members {
				walk(m.Type, depth+1)
			}
		case *btf.Union:
			for _, m := range x.Members {
				walk(m.Type, depth+1)
			}
		case *btf.Array:
			walk(x.Type, depth+1)
		case *btf.Datasec:
			for _, v := range x.Vars {
				walk(v.Type, depth+1)
			}
		case *btf.Var:
			walk(x.Type, depth+1)
		case *btf.Pointer:
			if tag, ok := x.Target.(*btf.TypeTag); ok {
				if sf, ok := specialFields[tag.Value]; ok && !seen[sf.name] {
					seen[sf.name] = true
					out = append(out, sf)
				}
			}
		case *btf.Typedef:
			walk(x.Type, depth+1)
		case *btf.Const:
			walk(x.Type, depth+1)
		case *btf.Volatile:
			walk(x.Type, depth+1)
		}
	}
	walk(value, 0)
	return out
}
