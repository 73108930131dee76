package corereport

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/harness/broken"
	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/probes"
)

// diffOf relocates the broken variant called variant on kernels a and b of
// the default matrix and diffs them.
func diffOf(t *testing.T, variant, a, b string) *Diff {
	t.Helper()
	kernels, _ := loadMatrixBTF(t)
	v, err := broken.Lookup(variant)
	require.NoError(t, err)
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(v.Object))
	require.NoError(t, err)
	var cols []Column
	for _, name := range []string{a, b} {
		res, err := Relocate(spec, kernels[name], Options{MapFallbacks: probes.MapFallbacks})
		require.NoError(t, err)
		cols = append(cols, Column{Kernel: kernel.Kernel{Name: name}, Result: res})
	}
	d, err := NewMatrix("broken_"+variant+".o", cols).Diff()
	require.NoError(t, err)
	return d
}

func TestDiffNamesWhatChanged(t *testing.T) {
	d := diffOf(t, "loop", "5.10", "6.1")
	require.False(t, d.Empty())

	var helpers []string
	for _, r := range d.Findings {
		helpers = append(helpers, r.Subject+" "+r.Cells[0].Text()+" "+r.Cells[1].Text())
	}
	assert.Contains(t, helpers, "bpf_loop ABSENT ok")
	assert.Contains(t, helpers, "callback function pointer ABSENT ok")
	require.Len(t, d.Programs, 1, "only trace_exec's verdict changes: %+v", d.Programs)
	assert.Equal(t, "trace_exec", d.Programs[0].Name)

	var relos []string
	for _, r := range d.Relocations {
		relos = append(relos, r.Program+" "+r.Access+" "+string(r.Kind)+" "+r.Cells[0].Text()+" "+r.Cells[1].Text())
	}
	assert.Contains(t, relos, "sched_switch task_struct.__state field_exists 0 1")
	for _, r := range d.Relocations {
		assert.NotEqual(t, r.Cells[0].Text(), r.Cells[1].Text(), "an unchanged relocation in the diff: %+v", r)
	}

	var text bytes.Buffer
	require.NoError(t, d.Write(&text, FormatTable))
	assert.Contains(t, text.String(), "helper bpf_loop (181) is not in this kernel's enum bpf_func_id")
	var js bytes.Buffer
	require.NoError(t, d.Write(&js, FormatJSON))
	var back Diff
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	assert.Len(t, back.Findings, len(d.Findings))
}

func TestDiffOfAKernelWithItselfIsEmpty(t *testing.T) {
	d := diffOf(t, "kern_ctx", "6.1", "6.1")
	assert.True(t, d.Empty(), "%+v", d)
	var text bytes.Buffer
	require.NoError(t, d.Write(&text, FormatTable))
	assert.Contains(t, text.String(), "Nothing differs")
}

func TestDiffNeedsTwoKernels(t *testing.T) {
	_, err := testMatrix(t).Diff()
	assert.ErrorIs(t, err, ErrDiffKernels)
}
