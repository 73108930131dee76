package broken

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fieldRelocations lists "type.member" for every field relocation of prog.
func fieldRelocations(t *testing.T, obj []byte, prog string) []string {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	require.NoError(t, err)
	ps := spec.Programs[prog]
	require.NotNil(t, ps, "program %s", prog)
	var out []string
	for _, ins := range ps.Instructions {
		r := btf.CORERelocationMetadata(&ins)
		if r == nil {
			continue
		}
		out = append(out, r.String())
	}
	return out
}

// TestVariantsReadOnlyTheOldField checks that each broken object kept the
// unguarded relocation of the old field and lost the new one.
func TestVariantsReadOnlyTheOldField(t *testing.T) {
	for _, tc := range []struct {
		variant, oldType, oldField, newField string
	}{
		{"state", "task_struct___pre514", "state", "__state"},
		{"start", "task_struct___pre55", "real_start_time", "start_boottime"},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			v, err := Lookup(tc.variant)
			require.NoError(t, err)
			relos := fieldRelocations(t, v.Object, v.Program)
			all := strings.Join(relos, "\n")
			assert.Contains(t, all, tc.oldType, "relocations of %s: %v", v.Program, relos)
			assert.NotContains(t, all, "field_exists", "a guard survived in %s: %v", v.Program, relos)
		})
	}
	_, err := Lookup("nope")
	assert.Error(t, err)
}
