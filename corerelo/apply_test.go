package corerelo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testObject is the CO-RE test object of the offline report: guarded and
// unguarded relocations of fields that exist on some kernels only.
const testObject = "../corereport/testdata/core.o"

func loadTestObject(t *testing.T) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(testObject)
	require.NoError(t, err)
	return spec
}

// taskStructKernel is kernel BTF holding only a task_struct with members.
func taskStructKernel(t *testing.T, members ...btf.Member) *btf.Spec {
	t.Helper()
	ts := &btf.Struct{Name: "task_struct", Size: 64, Members: members}
	b, err := btf.NewBuilder([]btf.Type{ts}, nil)
	require.NoError(t, err)
	spec, err := b.Spec()
	require.NoError(t, err)
	return spec
}

// kernelPre514 is BTF shaped like a kernel older than 5.14: task_struct has
// `long state` at offset 16 and no __state.
func kernelPre514(t *testing.T) *btf.Spec {
	long := &btf.Int{Name: "long int", Size: 8, Encoding: btf.Signed}
	return taskStructKernel(t, btf.Member{Name: "state", Type: long, Offset: 16 * 8})
}

// kernelPost514 has `unsigned int __state` and no state.
func kernelPost514(t *testing.T) *btf.Spec {
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	return taskStructKernel(t, btf.Member{Name: "__state", Type: u32, Offset: 24 * 8})
}

// site returns the site of prog with the given kind and access.
func site(t *testing.T, sites []Site, kind Kind, access string) Site {
	t.Helper()
	for _, s := range sites {
		if s.Kind == kind && s.Access == access {
			return s
		}
	}
	require.Failf(t, "no such relocation", "%s %s in %v", kind, access, sites)
	return Site{}
}

func TestApplyGuardedAndUnguarded(t *testing.T) {
	spec := loadTestObject(t)
	for _, tt := range []struct {
		kernel                       func(*testing.T) *btf.Spec
		name                         string
		poisoned, guardedUnguarded   bool
		unguardedUnguarded, offValue bool
	}{
		{kernelPre514, "pre-5.14", false, false, false, true},
		{kernelPost514, "post-5.14", true, false, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kernel := tt.kernel(t)
			guarded, err := Apply(spec.Programs["guarded_state"].Instructions, spec.Types, kernel, binary.LittleEndian)
			require.NoError(t, err)
			unguarded, err := Apply(spec.Programs["unguarded_state"].Instructions, spec.Types, kernel, binary.LittleEndian)
			require.NoError(t, err)

			g := site(t, guarded, FieldByteOffset, "task_struct___pre514.state")
			u := site(t, unguarded, FieldByteOffset, "task_struct___pre514.state")
			assert.Equal(t, tt.poisoned, g.Poisoned, "guarded: %+v", g)
			assert.Equal(t, tt.poisoned, u.Poisoned, "unguarded: %+v", u)
			assert.False(t, g.Unguarded, "a guarded poisoned relocation is dead code: %+v", g)
			assert.Equal(t, tt.unguardedUnguarded, u.Unguarded, "unguarded: %+v", u)
			if tt.offValue {
				assert.Equal(t, int64(16), u.Value, "offset of state on %s", tt.name)
			}
			exists := site(t, guarded, FieldExists, "task_struct___pre514.state")
			assert.Equal(t, map[bool]int64{false: 1, true: 0}[tt.poisoned], exists.Value, "field_exists on %s", tt.name)
			assert.Equal(t, "field_byte_offset task_struct___pre514.state", u.Description.String())
		})
	}
}

func TestApplyAmbiguousTargetIsErrRelocation(t *testing.T) {
	// Two kernel task_structs whose state sits at different offsets: the
	// relocation has no single answer, and cilium/ebpf refuses to compute it.
	long := &btf.Int{Name: "long int", Size: 8, Encoding: btf.Signed}
	a := &btf.Struct{Name: "task_struct", Size: 64, Members: []btf.Member{{Name: "state", Type: long, Offset: 16 * 8}}}
	b := &btf.Struct{Name: "task_struct", Size: 64, Members: []btf.Member{{Name: "state", Type: long, Offset: 24 * 8}}}
	builder, err := btf.NewBuilder([]btf.Type{a, b}, nil)
	require.NoError(t, err)
	kernel, err := builder.Spec()
	require.NoError(t, err)

	spec := loadTestObject(t)
	sites, err := Apply(spec.Programs["unguarded_state"].Instructions, spec.Types, kernel, binary.LittleEndian)
	require.ErrorIs(t, err, ErrRelocation)
	assert.NotEmpty(t, sites, "sites are still described")
}

func TestDescribeEveryRelocationOfARealObject(t *testing.T) {
	// Describe depends on btf.CORERelocation's String form; every relocation
	// of the test object must parse, so a cilium/ebpf upgrade that changes it
	// fails here first.
	spec := loadTestObject(t)
	n := 0
	for _, p := range spec.Programs {
		for i := range p.Instructions {
			relo := btf.CORERelocationMetadata(&p.Instructions[i])
			if relo == nil {
				continue
			}
			n++
			d, err := Describe(relo, spec.Types)
			require.NoError(t, err, "describe %s", relo)
			assert.NotContains(t, d.Access, "[", "access of %s falls back to the raw accessor: %s", relo, d.Access)
		}
	}
	assert.GreaterOrEqual(t, n, 10, "relocations in the test object")
}

// TestIsBadRelocationMatchesCiliumError loads a program holding a poisoned
// instruction into the running kernel: the verifier rejects it and
// cilium/ebpf turns that into its (unexported) bad-relocation error, whose
// text IsBadRelocation must recognise.
func TestIsBadRelocationMatchesCiliumError(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading BPF needs root")
	}
	require.NoError(t, rlimit.RemoveMemlock())
	for _, poison := range []asm.Instruction{
		asm.BuiltinFunc(btf.COREBadRelocationSentinel).Call(),
		asm.LoadImm(asm.R10, btf.COREBadRelocationSentinel, asm.DWord),
	} {
		t.Run(fmt.Sprint(poison), func(t *testing.T) {
			require.True(t, IsPoisoned(&poison))
			_, err := ebpf.NewProgram(&ebpf.ProgramSpec{
				Type:         ebpf.SocketFilter,
				License:      "MIT",
				Instructions: asm.Instructions{poison, asm.Mov.Imm(asm.R0, 0), asm.Return()},
			})
			require.Error(t, err)
			assert.True(t, IsBadRelocation(err), "cilium/ebpf's error %q does not contain %q", err, BadRelocationText)
			assert.True(t, IsBadRelocation(fmt.Errorf("program x: %w", err)), "wrapped")
		})
	}
	assert.False(t, IsBadRelocation(nil))
	assert.False(t, IsBadRelocation(errors.New("load program: invalid argument")))
}
