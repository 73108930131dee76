package broken

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/corematrix/corematrix/probes"
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

// TestVariantsMatchTheTracer checks that each broken build is a drop-in for
// the real tracer object: the same programs, maps and variables. When it
// fails, probes/bpf/tracer.c changed: run `go generate ./harness/broken`.
func TestVariantsMatchTheTracer(t *testing.T) {
	good, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(probes.Object()))
	require.NoError(t, err)
	for _, v := range Variants() {
		t.Run(v.Name, func(t *testing.T) {
			spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(v.Object))
			require.NoError(t, err)
			assert.ElementsMatch(t, keys(good.Programs), keys(spec.Programs), "programs")
			assert.ElementsMatch(t, keys(good.Maps), keys(spec.Maps), "maps")
			assert.ElementsMatch(t, keys(good.Variables), keys(spec.Variables), "variables")
			for name, ps := range good.Programs {
				if name == v.Program || spec.Programs[name] == nil {
					continue
				}
				assert.Equal(t, len(ps.Instructions), len(spec.Programs[name].Instructions),
					"program %s differs from the tracer's: regenerate", name)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestVariantsPerArch checks that every variant is built for both
// architectures, and that the arm64 kprobe_target probes arm64's syscall
// wrapper.
func TestVariantsPerArch(t *testing.T) {
	amd, arm := VariantsFor("amd64"), VariantsFor("arm64")
	require.Len(t, arm, len(amd))
	for i := range amd {
		assert.Equal(t, amd[i].Name, arm[i].Name)
		assert.NotEqual(t, amd[i].Object, arm[i].Object, "variant %s: the arm64 build is the x86 one", amd[i].Name)
	}
	for arch, want := range map[string]string{"amd64": "kprobe/__x64_sys_epoll_pwait2", "arm64": "kprobe/__arm64_sys_epoll_pwait2"} {
		v, err := LookupFor(arch, "kprobe_target")
		require.NoError(t, err)
		spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(v.Object))
		require.NoError(t, err)
		assert.Equal(t, want, spec.Programs[v.Program].SectionName, arch)
		assert.Equal(t, strings.TrimPrefix(want, "kprobe/"), v.Uses, arch)
	}
	assert.Empty(t, VariantsFor("riscv64"))
}
