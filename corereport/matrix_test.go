package corereport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/corerelo"
	"github.com/corematrix/corematrix/kernel"
)

// testMatrix relocates the test object against synthetic kernels from
// before and after 5.14 ("old", "new") and a kernel that is unavailable.
func testMatrix(t *testing.T) *Matrix {
	t.Helper()
	spec := loadTestObject(t)
	var cols []Column
	for _, k := range []testKernel{{"old", kernelPre514}, {"new", kernelModern}} {
		res, err := Relocate(spec, k.load(t), Options{})
		require.NoError(t, err, "Relocate %s", k.name)
		cols = append(cols, Column{Kernel: kernel.Kernel{Name: k.name}, Result: res})
	}
	cols = append(cols, Column{Kernel: kernel.Kernel{Name: "5.4"}, Err: "no image for 5.4"})
	return NewMatrix(testObject, cols)
}

func TestMatrixCells(t *testing.T) {
	m := testMatrix(t)
	cell := func(prog string, kind corerelo.Kind, access string) []string {
		for _, r := range m.Relocations {
			if r.Program == prog && r.Kind == kind && r.Access == access {
				var out []string
				for _, c := range r.Cells {
					out = append(out, c.Text())
				}
				return out
			}
		}
		require.Fail(t, fmt.Sprintf("no row %s %s %s", prog, kind, access))
		return nil
	}
	tests := []struct {
		prog   string
		kind   corerelo.Kind
		access string
		want   []string // old, new, 5.4
	}{
		{"guarded_state", corerelo.FieldExists, "task_struct___pre514.state", []string{"1", "0", "n/a"}},
		{"guarded_state", corerelo.FieldByteOffset, "task_struct___pre514.state", []string{"16", "poison (dead)", "n/a"}},
		{"guarded_state", corerelo.FieldExists, "task_struct___pre514.state", []string{"1", "0", "n/a"}},
		{"unguarded_state", corerelo.FieldByteOffset, "task_struct___pre514.state", []string{"16", "POISONED", "n/a"}},
		{"type_checks", corerelo.TypeExists, "bpf_ringbuf", []string{"0", "1", "n/a"}},
	}
	for _, tt := range tests {
		got := cell(tt.prog, tt.kind, tt.access)
		assert.Equal(t, strings.Join(tt.want, ","), strings.Join(got, ","), "%s %s %s: cells %q, want %q", tt.prog, tt.access, tt.kind, got, tt.want)
	}

	loads := map[string]string{}
	for _, p := range m.Programs {
		var cs []string
		for _, c := range p.Cells {
			cs = append(cs, c.Text())
		}
		loads[p.Name] = strings.Join(cs, ",")
	}
	wantLoads := map[string]string{
		"guarded_state":   "loads,loads,n/a",
		"unguarded_state": "loads,FAILS,n/a",
		"guarded_bogus":   "loads,loads,n/a",
		"unguarded_bogus": "FAILS,FAILS,n/a",
		"type_checks":     "loads,loads,n/a",
		"subprog_state":   "loads,loads,n/a",
	}
	for name, want := range wantLoads {
		assert.Equal(t, want, loads[name], "%s: predicted %q, want %q", name, loads[name], want)
	}
	got := m.Failures()
	assert.EqualValues(t, 3, got, "Failures() = %d, want 3", got)
	got = m.Unavailable()
	assert.EqualValues(t, 1, got, "Unavailable() = %d, want 1", got)
}

func TestMatrixWrite(t *testing.T) {
	m := testMatrix(t)
	tests := []struct {
		format Format
		want   []string
	}{
		{FormatTable, []string{
			"PROGRAM", "KIND", "old", "new", "5.4",
			"task_struct___pre514.state", "field_byte_offset", "POISONED", "poison (dead)",
			"PREDICTED LOAD", "unguarded_state  loads",
			"unguarded_state FAILS on new: bad CO-RE relocation: unguarded poisoned task_struct___pre514.state",
			"5.4: n/a: no image for 5.4",
		}},
		{FormatMarkdown, []string{
			"| program | relocation | kind | old | new | 5.4 |",
			"| unguarded_state | `task_struct___pre514.state` | field_byte_offset | 16 | **POISONED** | n/a |",
			"| unguarded_state | loads | **FAILS** | n/a |",
			"- 5.4: n/a: no image for 5.4",
		}},
		{FormatJSON, []string{`"unguarded": true`, `"text": "POISONED"`, `"text": "FAILS"`, `"access": "task_struct___pre514.state"`, `"error": "no image for 5.4"`}},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		require.NoError(t, m.Write(&b, tt.format), "Write(%s)", tt.format)
		for _, w := range tt.want {
			assert.Contains(t, b.String(), w, "%s output lacks %q; got:\n%s", tt.format, w, b.String())
		}
	}

	var b bytes.Buffer
	err := m.Write(&b, "yaml")
	assert.ErrorIs(t, err, ErrUnknownFormat, "Write(yaml) = %v, want ErrUnknownFormat", err)
}

func TestMatrixJSONRoundTrip(t *testing.T) {
	m := testMatrix(t)
	var b bytes.Buffer
	require.NoError(t, m.WriteJSON(&b))
	var back Matrix
	err := json.Unmarshal(b.Bytes(), &back)
	require.NoError(t, err, "unmarshal: %v\n%s", err, b.String())
	if len(back.Relocations) != len(m.Relocations) || len(back.Programs) != len(m.Programs) || len(back.Kernels) != 3 {
		require.Fail(t, fmt.Sprintf("round trip: %d relocations, %d programs, %d kernels; want %d, %d, 3",
			len(back.Relocations), len(back.Programs), len(back.Kernels), len(m.Relocations), len(m.Programs)))
	}
	for i, r := range back.Relocations {
		for j, c := range r.Cells {
			got, want := c.Text(), m.Relocations[i].Cells[j].Text()
			assert.Equal(t, want, got, "row %d cell %d: %q after round trip, want %q", i, j, got, want)
		}
	}
}
