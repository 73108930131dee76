package probes

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/corerelo"
)

func TestSpecLoads(t *testing.T) {
	spec, err := Spec()
	require.NoError(t, err)
	assert.NotEmpty(t, Object())

	// Which programs exist is TestRegistryMatchesObject's business; here
	// each program's type must fit its attach point.
	typeOf := map[string]ebpf.ProgramType{
		attachTracepoint:    ebpf.TracePoint,
		attachKprobe:        ebpf.Kprobe,
		attachKretprobe:     ebpf.Kprobe,
		attachRawTracepoint: ebpf.RawTracepoint,
	}
	for _, d := range Programs() {
		p := spec.Programs[d.Name]
		require.NotNil(t, p, "table names %s", d.Name)
		assert.Equal(t, typeOf[d.Attach], p.Type, "type of %s", d.Name)
		assert.Equal(t, d.Attach+"/"+d.Target, p.SectionName, "section of %s", d.Name)
	}

	wantMaps := map[string]ebpf.MapType{
		"events":     ebpf.RingBuf,
		"scratch":    ebpf.PerCPUArray,
		"drops":      ebpf.PerCPUArray,
		"targets":    ebpf.Hash,
		"connect_sk": ebpf.Hash,
		".rodata":    ebpf.Array,
	}
	for name, typ := range wantMaps {
		m := spec.Maps[name]
		if assert.NotNil(t, m, "map %s missing; have %v", name, keys(spec.Maps)) {
			assert.Equal(t, typ, m.Type, "map %s type", name)
		}
	}
	for _, name := range MapNames() {
		assert.Contains(t, spec.Maps, name)
	}
	assert.EqualValues(t, execSize, spec.Maps["scratch"].ValueSize, "scratch holds the largest record")
	for _, v := range []string{"use_ringbuf", "filter_tgids"} {
		assert.Contains(t, spec.Variables, v)
	}
}

func TestEmbeddedMatchesCommitted(t *testing.T) {
	onDisk, err := os.ReadFile(ObjectName)
	if os.IsNotExist(err) {
		t.Skipf("%s not here: the test binary runs outside the source tree", ObjectName)
	}
	require.NoError(t, err)
	assert.Equal(t, onDisk, Object(), "embedded object differs from %s", ObjectName)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// relocations returns the CO-RE relocations of a program as described by
// corerelo ("field_byte_offset task_struct.real_parent").
func relocations(t *testing.T, spec *ebpf.CollectionSpec, p *ebpf.ProgramSpec) []string {
	t.Helper()
	var out []string
	iter := p.Instructions.Iterate()
	for iter.Next() {
		if r := btf.CORERelocationMetadata(iter.Ins); r != nil {
			d, err := corerelo.Describe(r, spec.Types)
			require.NoError(t, err)
			out = append(out, d.String())
		}
	}
	return out
}

func TestFlavorRelocations(t *testing.T) {
	spec, err := Spec()
	require.NoError(t, err)

	tests := []struct {
		prog string
		want []string // substrings, each must match one relocation
	}{
		{"trace_exec", []string{
			"field_exists task_struct.start_boottime",
			"field_byte_offset task_struct.start_boottime",
			"field_exists task_struct___pre55.real_start_time",
			"field_byte_offset task_struct___pre55.real_start_time",
			"field_byte_offset task_struct.real_parent",
			"field_byte_offset cred.uid.val",
			"type_exists bpf_ringbuf",
		}},
		{"sched_switch", []string{
			"field_exists task_struct.__state",
			"field_byte_offset task_struct.__state",
			"field_exists task_struct___pre514.state",
			"field_byte_offset task_struct___pre514.state",
			"type_exists bpf_ringbuf",
		}},
		{"connect6_return", []string{
			"field_exists sock.__sk_common.skc_v6_daddr",
			"field_byte_offset sock.__sk_common.skc_num",
		}},
		{"trace_open", []string{"field_byte_offset dentry.d_name.name", "field_byte_offset inode.i_ino"}},
	}
	for _, tt := range tests {
		t.Run(tt.prog, func(t *testing.T) {
			relos := relocations(t, spec, spec.Programs[tt.prog])
			joined := strings.Join(relos, "\n")
			for _, w := range tt.want {
				assert.Contains(t, joined, w, "relocations of %s", tt.prog)
			}
		})
	}
}

func TestSetOutput(t *testing.T) {
	tests := []struct {
		name     string
		out      Output
		size     int
		wantType ebpf.MapType
		wantMax  uint32
		wantRing bool
		wantErr  bool
	}{
		{"perf", OutputPerf, 0, ebpf.PerfEventArray, 0, false, false},
		{"ringbuf default", OutputRingbuf, 0, ebpf.RingBuf, 1 << 20, true, false},
		{"ringbuf tiny", OutputRingbuf, 4096, ebpf.RingBuf, 4096, true, false},
		{"ringbuf not power of two", OutputRingbuf, 3 * 4096, 0, 0, false, true},
		{"ringbuf below a page", OutputRingbuf, 1024, 0, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := Spec()
			require.NoError(t, err)
			err = SetOutput(spec, tt.out, tt.size)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			m := spec.Maps["events"]
			assert.Equal(t, tt.wantType, m.Type)
			assert.Equal(t, tt.wantMax, m.MaxEntries)
			if tt.out == OutputPerf {
				assert.EqualValues(t, 4, m.KeySize)
				assert.EqualValues(t, 4, m.ValueSize)
			}
			var ring bool
			require.NoError(t, spec.Variables["use_ringbuf"].Get(&ring))
			assert.Equal(t, tt.wantRing, ring)
		})
	}
}

func TestDescribeRelocation(t *testing.T) {
	spec, err := Spec()
	require.NoError(t, err)
	p := spec.Programs["trace_exec"]
	iter := p.Instructions.Iterate()
	for i := 0; iter.Next(); i++ {
		r := btf.CORERelocationMetadata(iter.Ins)
		if r == nil {
			continue
		}
		d, err := corerelo.Describe(r, spec.Types)
		require.NoError(t, err)
		if d.Access != "task_struct.real_parent" {
			continue
		}
		got := describe(p, corerelo.Site{Description: d, Index: i, Offset: int(iter.Offset)})
		assert.Regexp(t, fmt.Sprintf(`^field_byte_offset task_struct\.real_parent \(insn %d(: .+)?\)$`, iter.Offset), got)
		return
	}
	require.Fail(t, "no real_parent relocation in trace_exec")
}
