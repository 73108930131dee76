package corereport

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
)

// fixupWant is what one relocation of one program must resolve to.
type fixupWant struct {
	prog, kind, access string
	// value is checked when >= 0 and the relocation is not poisoned.
	value     int64
	poisoned  bool
	unguarded bool
}

func TestRelocateTestObject(t *testing.T) {
	const any = -1
	tests := []struct {
		kernel testKernel
		// when, if set, says whether the case applies to the kernel.
		when   func(*btf.Spec) (bool, string)
		loads  map[string]bool
		fixups []fixupWant
	}{
		{
			kernel: testKernel{"6.1 image", kernel61},
			loads: map[string]bool{
				"guarded_state": true, "unguarded_state": false,
				"guarded_bogus": true, "unguarded_bogus": false, "type_checks": true,
				"subprog_state": true,
			},
			fixups: []fixupWant{
				{"guarded_state", "field_exists", "task_struct___pre514.state", 0, false, false},
				{"guarded_state", "field_byte_offset", "task_struct___pre514.state", any, true, false},
				{"guarded_state", "field_byte_offset", "task_struct.__state", 24, false, false},
				{"guarded_state", "field_byte_offset", "task_struct.pid", 2416, false, false},
				{"unguarded_state", "field_byte_offset", "task_struct___pre514.state", any, true, true},
				{"guarded_bogus", "field_exists", "task_struct___bogus.corematrix_no_such_field", 0, false, false},
				{"guarded_bogus", "field_byte_offset", "task_struct___bogus.corematrix_no_such_field", any, true, false},
				{"unguarded_bogus", "field_byte_offset", "task_struct___bogus.corematrix_no_such_field", any, true, true},
				{"type_checks", "type_exists", "bpf_ringbuf", 1, false, false},
				{"type_checks", "type_exists", "corematrix_no_such_type", 0, false, false},
				{"subprog_state", "field_byte_offset", "task_struct___pre514.state", any, true, false},
				{"subprog_state", "field_byte_offset", "task_struct.__state", 24, false, false},
			},
		},
		{
			// The host (or the guest, under vmtest exec) since 5.14.
			kernel: testKernel{"host", kernelHost},
			when:   hasStateField(false),
			loads: map[string]bool{
				"guarded_state": true, "unguarded_state": false,
				"guarded_bogus": true, "unguarded_bogus": false, "type_checks": true,
				"subprog_state": true,
			},
			fixups: []fixupWant{
				{"guarded_state", "field_exists", "task_struct___pre514.state", 0, false, false},
				{"guarded_state", "field_byte_offset", "task_struct___pre514.state", any, true, false},
				{"guarded_state", "field_byte_offset", "task_struct.__state", any, false, false},
				{"unguarded_state", "field_byte_offset", "task_struct___pre514.state", any, true, true},
				{"type_checks", "type_exists", "bpf_ringbuf", 1, false, false},
			},
		},
		{
			// The host (or the guest, under vmtest exec) before 5.14, e.g. 5.10.
			kernel: testKernel{"host before 5.14", kernelHost},
			when:   hasStateField(true),
			loads: map[string]bool{
				"guarded_state": true, "unguarded_state": true,
				"guarded_bogus": true, "unguarded_bogus": false, "type_checks": true,
				"subprog_state": true,
			},
			fixups: []fixupWant{
				{"guarded_state", "field_exists", "task_struct___pre514.state", 1, false, false},
				{"guarded_state", "field_byte_offset", "task_struct.__state", any, true, false},
				{"unguarded_state", "field_byte_offset", "task_struct___pre514.state", any, false, false},
				{"unguarded_bogus", "field_byte_offset", "task_struct___bogus.corematrix_no_such_field", any, true, true},
			},
		},
		{
			kernel: testKernel{"pre-5.14 (synthetic)", kernelPre514},
			loads: map[string]bool{
				"guarded_state": true, "unguarded_state": true,
				"guarded_bogus": true, "unguarded_bogus": false, "type_checks": true,
				"subprog_state": true,
			},
			fixups: []fixupWant{
				{"guarded_state", "field_exists", "task_struct___pre514.state", 1, false, false},
				{"guarded_state", "field_byte_offset", "task_struct___pre514.state", 16, false, false},
				// __state is missing, but only read when the flavor check says
				// state does not exist: dead code here.
				{"guarded_state", "field_byte_offset", "task_struct.__state", any, true, false},
				{"guarded_state", "field_byte_offset", "task_struct.pid", 40, false, false},
				{"unguarded_state", "field_byte_offset", "task_struct___pre514.state", 16, false, false},
				{"unguarded_bogus", "field_byte_offset", "task_struct___bogus.corematrix_no_such_field", any, true, true},
				{"type_checks", "type_exists", "bpf_ringbuf", 0, false, false},
				{"subprog_state", "field_byte_offset", "task_struct___pre514.state", 16, false, false},
				{"subprog_state", "field_byte_offset", "task_struct.__state", any, true, false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.kernel.name, func(t *testing.T) {
			kernel := tt.kernel.load(t)
			if tt.when != nil {
				if ok, why := tt.when(kernel); !ok {
					t.Skip(why)
				}
			}
			res, err := Relocate(loadTestObject(t), kernel, Options{})
			require.NoError(t, err, "Relocate")
			progs := map[string]Program{}
			for _, p := range res.Programs {
				progs[p.Name] = p
			}
			for name, want := range tt.loads {
				p, ok := progs[name]
				if !ok {
					assert.Fail(t, fmt.Sprintf("program %s missing from result", name))
					continue
				}
				assert.Equal(t, want, p.Loads, "%s: Loads = %v (reason %q), want %v", name, p.Loads, p.Reason, want)
				assert.False(t, !p.Loads && !strings.Contains(p.Reason, "bad CO-RE relocation"), "%s: reason %q does not say bad CO-RE relocation", name, p.Reason)
			}
			assert.Len(t, progs, len(tt.loads), "got %d programs, want %d", len(progs), len(tt.loads))
			for _, w := range tt.fixups {
				f, ok := findFixup(progs[w.prog], w.kind, w.access)
				if !ok {
					assert.Fail(t, fmt.Sprintf("%s: no %s relocation of %s; have %v", w.prog, w.kind, w.access, progs[w.prog].Fixups))
					continue
				}
				if f.Poisoned != w.poisoned || f.Unguarded != w.unguarded {
					assert.Fail(t, fmt.Sprintf("%s %s %s: poisoned=%v unguarded=%v, want poisoned=%v unguarded=%v",
						w.prog, w.access, w.kind, f.Poisoned, f.Unguarded, w.poisoned, w.unguarded))
				}
				assert.False(t, !w.poisoned && w.value >= 0 && f.Value != w.value, "%s %s %s: value %d, want %d", w.prog, w.access, w.kind, f.Value, w.value)
			}
		})
	}
}

// hasStateField returns a case filter that applies when the kernel's
// task_struct has the pre-5.14 "state" field (pre true) or not (pre false).
func hasStateField(pre bool) func(*btf.Spec) (bool, string) {
	return func(kernel *btf.Spec) (bool, string) {
		var ts *btf.Struct
		if err := kernel.TypeByName("task_struct", &ts); err != nil {
			return false, fmt.Sprintf("no task_struct: %v", err)
		}
		has := false
		for _, m := range ts.Members {
			if m.Name == "state" {
				has = true
			}
		}
		return has == pre, fmt.Sprintf("case is for kernels where task_struct has state=%v; this one has state=%v", pre, has)
	}
}

func findFixup(p Program, kind, access string) (Fixup, bool) {
	for _, f := range p.Fixups {
		if string(f.Kind) == kind && f.Access == access {
			return f, true
		}
	}
	return Fixup{}, false
}

func TestRelocateIncompatibleType(t *testing.T) {
	// A kernel whose task_struct.state is a struct, not an integer: the
	// relocation cannot be computed and the program must be predicted to fail
	// with ErrRelocation's text, not reported as loading.
	inner := &btf.Struct{Name: "weird", Size: 8}
	ts := &btf.Struct{Name: "task_struct", Size: 64, Members: []btf.Member{
		{Name: "state", Type: inner, Offset: 0},
	}}
	b, err := btf.NewBuilder([]btf.Type{ts}, nil)
	require.NoError(t, err)
	kernel, err := b.Spec()
	require.NoError(t, err)
	res, err := Relocate(loadTestObject(t), kernel, Options{})
	require.NoError(t, err, "Relocate")
	for _, p := range res.Programs {
		if p.Name != "unguarded_state" {
			continue
		}
		require.False(t, p.Loads, "unguarded_state predicted to load against an incompatible task_struct.state: %+v", p)
		// Either poisoned (cilium treats incompatible members as missing) or
		// not computable at all; both fail the load.
		f := p.Fixups[0]
		assert.False(t, !f.Unguarded && !f.Unresolved, "fixup %+v neither unguarded nor unresolved", f)
		return
	}
	require.Fail(t, "unguarded_state missing")
}

func TestRelocateNilKernel(t *testing.T) {
	_, err := Relocate(loadTestObject(t), nil, Options{})
	require.Error(t, err, "Relocate(nil kernel) succeeded")
}

func TestPredict(t *testing.T) {
	kernel := kernel61(t)
	p, err := Predict(testObject, kernel, Options{})
	require.NoError(t, err, "Predict")
	want := map[string]bool{
		"guarded_state": true, "unguarded_state": false,
		"guarded_bogus": true, "unguarded_bogus": false, "type_checks": true,
		"subprog_state": true,
	}
	for name, w := range want {
		got, ok := p.Programs[name]
		assert.True(t, ok, "Programs[%s] = %v (present %v), want %v", name, got, ok, w)
		assert.Equal(t, w, got, "Programs[%s] = %v (present %v), want %v", name, got, ok, w)
		_, hasReason := p.Reasons[name]
		assert.NotEqual(t, w, hasReason, "Reasons[%s] present = %v, want %v (reasons %v)", name, hasReason, !w, p.Reasons)
	}
	r := p.Reasons["unguarded_state"]
	assert.Contains(t, r, "task_struct___pre514.state", "reason %q does not name the poisoned field", r)

	_, err = Predict("testdata/no-such.o", kernel, Options{})
	assert.Error(t, err, "Predict of a missing object succeeded")
}

func TestPredictorConcurrent(t *testing.T) {
	img61 := image61(t)
	p, err := NewPredictor(testObject, kernelBTFCache(t.TempDir()), Options{})
	require.NoError(t, err)
	type out struct {
		pred *report.Prediction
		err  error
	}
	images := []string{img61, "/sys/kernel/btf/vmlinux", img61, "/sys/kernel/btf/vmlinux"}
	results := make([]out, len(images))
	var wg sync.WaitGroup
	for i, img := range images {
		wg.Go(func() {
			pred, err := p.Predict(context.Background(), kernel.Kernel{Name: img, Path: img})
			results[i] = out{pred, err}
		})
	}
	wg.Wait()
	for i, r := range results {
		require.Nil(t, r.err, "Predict(%s): %v", images[i], r.err)
		got := r.pred.Programs["unguarded_state"]
		assert.False(t, got, "Predict(%s): unguarded_state loads = true, want false", images[i])
		got = r.pred.Programs["guarded_state"]
		assert.True(t, got, "Predict(%s): guarded_state loads = false, want true (reason %q)", images[i], r.pred.Reasons["guarded_state"])
	}
	_, err = NewPredictor("testdata/no-such.o", nil, Options{})
	assert.Error(t, err, "NewPredictor of a missing object succeeded")
}
