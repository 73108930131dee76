package corereport

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/corematrix/corematrix/corerelo"
)

// requireBPF skips unless this process may load BPF programs into the host
// kernel (root or CAP_BPF).
func requireBPF(t *testing.T) {
	t.Helper()
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Skipf("cannot load BPF here: %v", err)
	}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SocketFilter,
		License:      "MIT",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		t.Skipf("cannot load BPF here: %v", err)
	}
	p.Close()
}

// TestPredictionAgreesWithVerifier loads every program of the test object
// into the host kernel, relocated against each kernel's BTF through
// ProgramOptions.KernelTypes, and checks that the real verifier agrees with
// the prediction: a program predicted to load loads, and one predicted to
// fail is rejected for a bad CO-RE relocation. The test object only reads
// through bpf_probe_read_kernel, so the offsets of another kernel do not
// matter to the host's verifier; poisoned instructions and dead code do.
//
// The test binary embeds the test object, so the same check runs against
// other kernels' verifiers in a VM:
//
//	CGO_ENABLED=0 go test -exec 'vmtest exec --kernel 5.10 --' ./corereport
func TestPredictionAgreesWithVerifier(t *testing.T) {
	requireBPF(t)
	type object struct {
		path    string
		kernels []testKernel
	}
	objects := []object{
		{testObject, []testKernel{{"host", kernelHost}, {"6.1 image", kernel61}, {"pre-5.14 (synthetic)", kernelPre514}}},
	}
	// The probes read BTF pointers too: only the host's own BTF is a fair
	// input for the host's verifier.
	if _, err := os.Stat("../probes/tracer_x86_bpfel.o"); err == nil {
		objects = append(objects, object{"../probes/tracer_x86_bpfel.o", []testKernel{{"host", kernelHost}}})
	}
	for _, obj := range objects {
		for _, k := range obj.kernels {
			t.Run(obj.path+"/"+k.name, func(t *testing.T) {
				kernel := k.load(t)
				spec := loadTestObject(t)
				if obj.path != testObject {
					var err error
					spec, err = ebpf.LoadCollectionSpec(obj.path)
					require.NoError(t, err)
				}
				res, err := Relocate(spec, kernel, Options{})
				require.NoError(t, err, "Relocate")
				failures := 0
				for _, p := range res.Programs {
					err := loadOne(spec, p.Name, kernel)
					if !p.Loads {
						failures++
					}
					switch {
					case p.Loads && err != nil:
						assert.Fail(t, fmt.Sprintf("%s: predicted to load, verifier said: %v", p.Name, err))
					case !p.Loads && err == nil:
						assert.Fail(t, fmt.Sprintf("%s: predicted to fail (%s), but it loaded", p.Name, p.Reason))
					case !p.Loads && !corerelo.IsBadRelocation(err):
						assert.Fail(t, fmt.Sprintf("%s: predicted a CO-RE failure, verifier failed otherwise: %v", p.Name, err))
					}
				}
				t.Logf("%d programs, %d predicted and verified to fail", len(res.Programs), failures)
			})
		}
	}
}

// loadOne loads program name of spec (with the maps it needs) into the host
// kernel, relocating CO-RE against kernel.
func loadOne(spec *ebpf.CollectionSpec, name string, kernel *btf.Spec) error {
	cs := spec.Copy()
	for n := range cs.Programs {
		if n != name {
			delete(cs.Programs, n)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(cs, ebpf.CollectionOptions{
		Programs: ebpf.ProgramOptions{KernelTypes: kernel},
	})
	if err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return verr
		}
		return err
	}
	coll.Close()
	return nil
}
