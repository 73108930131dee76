package probes

import (
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpecLoads(t *testing.T) {
	spec, err := Spec()
	require.NoError(t, err)
	assert.NotEmpty(t, Object())

	wantProgs := map[string]ebpf.ProgramType{
		"trace_exec":      ebpf.TracePoint,
		"trace_exit":      ebpf.Kprobe,
		"trace_open":      ebpf.Kprobe,
		"connect4_entry":  ebpf.Kprobe,
		"connect4_return": ebpf.Kprobe,
		"connect6_entry":  ebpf.Kprobe,
		"connect6_return": ebpf.Kprobe,
		"sched_switch":    ebpf.RawTracepoint,
	}
	assert.Len(t, spec.Programs, len(wantProgs), "programs: %v", keys(spec.Programs))
	for name, typ := range wantProgs {
		p := spec.Programs[name]
		if assert.NotNil(t, p, "program %s missing", name) {
			assert.Equal(t, typ, p.Type, "program %s type", name)
		}
	}
	for _, d := range Programs() {
		p := spec.Programs[d.Name]
		require.NotNil(t, p, "table names %s", d.Name)
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

// relocations returns the CO-RE relocations of a program as strings.
func relocations(t *testing.T, p *ebpf.ProgramSpec) []string {
	t.Helper()
	var out []string
	iter := p.Instructions.Iterate()
	for iter.Next() {
		if r := btf.CORERelocationMetadata(iter.Ins); r != nil {
			out = append(out, r.String()+" "+fieldPathOf(r))
		}
	}
	return out
}

func fieldPathOf(r *btf.CORERelocation) string {
	m := reloRE.FindStringSubmatch(r.String())
	if m == nil {
		return ""
	}
	return m[1] + " " + fieldPath(m[3], m[4])
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
			"byte_off task_struct.start_boottime",
			"field_exists task_struct___pre55.real_start_time",
			"byte_off task_struct___pre55.real_start_time",
			"byte_off task_struct.real_parent",
			"byte_off cred.uid.val",
			"type_exists bpf_ringbuf",
		}},
		{"sched_switch", []string{
			"field_exists task_struct.__state",
			"byte_off task_struct.__state",
			"field_exists task_struct___pre514.state",
			"byte_off task_struct___pre514.state",
			"type_exists bpf_ringbuf",
		}},
		{"connect6_return", []string{
			"field_exists sock.__sk_common.skc_v6_daddr",
			"byte_off sock.__sk_common.skc_num",
		}},
		{"trace_open", []string{"byte_off dentry.d_name.name", "byte_off inode.i_ino"}},
	}
	for _, tt := range tests {
		t.Run(tt.prog, func(t *testing.T) {
			relos := relocations(t, spec.Programs[tt.prog])
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
	found := false
	for iter.Next() {
		r := btf.CORERelocationMetadata(iter.Ins)
		if r == nil || !strings.Contains(fieldPathOf(r), "task_struct.real_parent") {
			continue
		}
		d := relocationAt(p.Instructions, int(iter.Offset))
		assert.Contains(t, d, "byte_off task_struct.real_parent (insn ")
		found = true
		break
	}
	assert.True(t, found, "no real_parent relocation in trace_exec")
	assert.Equal(t, "", relocationAt(p.Instructions, 0), "first instruction has no relocation")
}
