package corereport

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mapKernel is BTF of an imaginary kernel for the map checks: map types
// hash, array, LRU hash, LPM trie and ring buffer; the map flags
// BPF_F_NO_PREALLOC, BPF_F_NO_COMMON_LRU, BPF_F_NUMA_NODE and
// BPF_F_MMAPABLE (not BPF_F_INNER_MAP); struct bpf_spin_lock but no
// struct bpf_timer.
func mapKernel(t *testing.T) *btf.Spec {
	t.Helper()
	u32 := &btf.Int{Name: "u32", Size: 4}
	types := []btf.Type{
		&btf.Enum{Name: "bpf_func_id", Size: 4, Values: []btf.EnumValue{{Name: "BPF_FUNC_unspec", Value: 0}}},
		&btf.Enum{Name: "bpf_prog_type", Size: 4, Values: []btf.EnumValue{{Name: "BPF_PROG_TYPE_XDP", Value: uint64(ebpf.XDP)}}},
		&btf.Enum{Name: "bpf_map_type", Size: 4, Values: []btf.EnumValue{
			{Name: "BPF_MAP_TYPE_HASH", Value: uint64(ebpf.Hash)}, {Name: "BPF_MAP_TYPE_ARRAY", Value: uint64(ebpf.Array)},
			{Name: "BPF_MAP_TYPE_LRU_HASH", Value: uint64(ebpf.LRUHash)}, {Name: "BPF_MAP_TYPE_LPM_TRIE", Value: uint64(ebpf.LPMTrie)},
			{Name: "BPF_MAP_TYPE_RINGBUF", Value: uint64(ebpf.RingBuf)},
		}},
		&btf.Enum{Size: 4, Values: []btf.EnumValue{
			{Name: "BPF_F_NO_PREALLOC", Value: 1}, {Name: "BPF_F_NO_COMMON_LRU", Value: 2},
			{Name: "BPF_F_NUMA_NODE", Value: 4}, {Name: "BPF_F_MMAPABLE", Value: 1 << 10},
		}},
		&btf.Struct{Name: "bpf_spin_lock", Size: 4, Members: []btf.Member{{Name: "val", Type: u32}}},
	}
	b, err := btf.NewBuilder(types, nil)
	require.NoError(t, err)
	spec, err := b.Spec()
	require.NoError(t, err)
	return spec
}

// valueWith is a map value struct holding a struct called field.
func valueWith(field string) *btf.Struct {
	u32 := &btf.Int{Name: "u32", Size: 4}
	inner := &btf.Struct{Name: field, Size: 16, Members: []btf.Member{{Name: "x", Type: u32}}}
	return &btf.Struct{Name: "val", Size: 20, Members: []btf.Member{
		{Name: "n", Type: u32}, {Name: "f", Type: inner, Offset: 32},
	}}
}

// TestMapChecks predicts map creation from the kernel's map types and
// flags, the per-type flag rules and the special fields of BTF values.
func TestMapChecks(t *testing.T) {
	kernel := mapKernel(t)
	tests := []struct {
		name    string
		m       ebpf.MapSpec
		check   Check
		verdict Verdict
		detail  string
	}{
		{"known type, no flags", ebpf.MapSpec{Type: ebpf.Hash, MaxEntries: 8}, CheckMapType, Loads, ""},
		{"type absent", ebpf.MapSpec{Type: ebpf.BloomFilter, MaxEntries: 8}, CheckMapType, Fails, "BloomFilter"},
		{"inner map type absent", ebpf.MapSpec{Type: ebpf.Hash, MaxEntries: 8, InnerMap: &ebpf.MapSpec{Type: ebpf.Queue}}, CheckMapType, Fails, "Queue"},
		{"flag the kernel knows", ebpf.MapSpec{Type: ebpf.Hash, MaxEntries: 8, Flags: 1}, CheckMapFlags, Loads, ""},
		{"flag the kernel lacks", ebpf.MapSpec{Type: ebpf.Array, MaxEntries: 8, Flags: 1 << 12}, CheckMapFlags, Fails, "BPF_F_INNER_MAP (0x1000) is not in this kernel's map flags"},
		{"mmapable hash", ebpf.MapSpec{Type: ebpf.Hash, MaxEntries: 8, Flags: 1 << 10}, CheckMapFlags, Fails, "BPF_F_MMAPABLE is for array"},
		{"mmapable array", ebpf.MapSpec{Type: ebpf.Array, MaxEntries: 8, Flags: 1 << 10}, CheckMapFlags, Loads, ""},
		{"array without prealloc", ebpf.MapSpec{Type: ebpf.Array, MaxEntries: 8, Flags: 1}, CheckMapFlags, Fails, "always preallocated"},
		{"LPM trie preallocated", ebpf.MapSpec{Type: ebpf.LPMTrie, MaxEntries: 8, Flags: 4}, CheckMapFlags, Fails, "needs BPF_F_NO_PREALLOC"},
		{"no common LRU on a hash", ebpf.MapSpec{Type: ebpf.Hash, MaxEntries: 8, Flags: 2}, CheckMapFlags, Fails, "LRU hash maps"},
		{"LRU without prealloc", ebpf.MapSpec{Type: ebpf.LRUHash, MaxEntries: 8, Flags: 1}, CheckMapFlags, Fails, "always preallocated"},
		{"ring buffer with a flag", ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: 4096, Flags: 1}, CheckMapFlags, Fails, "BPF_F_NUMA_NODE"},
		{"spin lock in a hash", ebpf.MapSpec{Type: ebpf.Hash, MaxEntries: 8, Value: valueWith("bpf_spin_lock")}, CheckMapBTF, Loads, ""},
		{"spin lock in an LRU hash", ebpf.MapSpec{Type: ebpf.LRUHash, MaxEntries: 8, Value: valueWith("bpf_spin_lock")}, CheckMapBTF, Fails, "cannot hold bpf_spin_lock"},
		{"timer unknown to the kernel", ebpf.MapSpec{Type: ebpf.LRUHash, MaxEntries: 8, Value: valueWith("bpf_timer")}, CheckMapBTF, Loads, "plain data"},
		{"max_entries 0", ebpf.MapSpec{Type: ebpf.Hash}, CheckMapSize, Unknown, "set by user space before load"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m
			m.Name = "m"
			prog := &ebpf.ProgramSpec{Name: "p", Type: ebpf.XDP, SectionName: "xdp", Instructions: asm.Instructions{
				asm.LoadMapPtr(asm.R1, 0).WithReference("m"), asm.Mov.Imm(asm.R0, 0), asm.Return(),
			}}
			spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"p": prog}, Maps: map[string]*ebpf.MapSpec{"m": &m}}
			res, err := Relocate(spec, kernel, Options{})
			require.NoError(t, err)
			require.Len(t, res.Programs, 1)
			var found *Finding
			for i, f := range res.Programs[0].Findings {
				if f.Check == tc.check && (found == nil || f.Verdict.worse(found.Verdict)) {
					found = &res.Programs[0].Findings[i]
				}
			}
			require.NotNil(t, found, "no %s finding in %+v", tc.check, res.Programs[0].Findings)
			assert.Equal(t, tc.verdict, found.Verdict, "%+v", *found)
			assert.Contains(t, found.Detail, tc.detail)
			if tc.verdict == Fails {
				assert.Equal(t, Fails, res.Programs[0].Verdict, "a map that cannot be created fails its program")
				assert.Contains(t, res.Programs[0].Reason, "map m")
			}
		})
	}
}
