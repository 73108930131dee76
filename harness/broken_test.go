package harness

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/corematrix/corematrix/corereport"
	"github.com/corematrix/corematrix/harness/broken"
	"github.com/corematrix/corematrix/probes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wantError is what the loader's or the kernel's error says when v fails on
// the running kernel.
func wantError(v broken.Variant) string {
	switch v.Kind {
	case broken.Field:
		return "bad CO-RE relocation"
	case broken.Helper:
		if v.Name == "loop" && !kernel.Version.AtLeast(5, 13) {
			// bpf_loop's callback is a function pointer (BPF_PSEUDO_FUNC,
			// 5.13): older kernels trip over it before the helper call.
			return "number of funcs in func_info doesn't match number of subprogs"
		}
		return "invalid func unknown#"
	case broken.Kfunc:
		return "not supported"
	case broken.KprobeTarget:
		return "not found"
	case broken.Trampoline:
		// arch_prepare_bpf_trampoline's -ENOTSUPP (524).
		return "not supported"
	}
	return ""
}

// TestBrokenTracerCaught loads each deliberately broken build of the tracer
// (see package broken) and requires exactly the verdict the kernel calls for,
// and the same verdict from the offline prediction (vmtest core-report) made
// from the kernel's BTF alone:
// the field variants load on kernels that still have the old field and are
// rejected as a bad CO-RE relocation where it was renamed; the feature
// variants fail (to load, or to attach) on kernels older than the helper,
// kfunc or function they use, and work on the others. This is the suite
// proving it can tell kernels apart; it stays green while the real tracer is
// correct.
func TestBrokenTracerCaught(t *testing.T) {
	need(t)
	require.NoError(t, kernel.BTFError, "kernel BTF")
	for _, v := range broken.Variants() {
		t.Run(v.Name, func(t *testing.T) {
			fails := v.FailsOn(kernel.Version.AtLeast)
			if v.Kind == broken.Field {
				byBTF := map[string]bool{"state": kernel.BTF.StateNew, "start": kernel.BTF.StartBoottime}[v.Name]
				require.Equal(t, fails, byBTF, "kernel %s: version says %s renamed=%t, BTF says %t",
					kernel.Release, v.Uses, fails, byBTF)
			}

			// One parse for both: the prediction reads spec as
			// the object has it, the load then sets its output.
			spec := variantSpec(t, v)
			predicted := predictVariant(t, spec, v)
			err := loadVariant(t, spec, v)
			// The offline prediction from this kernel's BTF alone must say
			// the same, or admit it cannot tell.
			switch predicted.Verdict {
			case corereport.Fails:
				assert.Error(t, err, "kernel %s: predicted to fail (%s), but %s worked", kernel.Release, predicted.Reason, v.Program)
			case corereport.Loads:
				assert.NoError(t, err, "kernel %s: predicted to work, but %s failed", kernel.Release, v.Program)
			default:
				t.Logf("kernel %s: the prediction for %s is %s: %s; real: %v", kernel.Release, v.Program, predicted.Verdict, predicted.Reason, err)
			}
			if v.Kind != broken.KprobeTarget {
				assert.NotEqual(t, corereport.Unknown, predicted.Verdict, "kernel %s: BTF settles %s, the prediction must not be unknown", kernel.Release, v.Uses)
			}
			if !fails {
				require.NoError(t, err, "kernel %s has %s: the broken %s build must work", kernel.Release, v.Uses, v.Name)
				t.Logf("kernel %s has what the broken %s build needs (%s): it works, as it should", kernel.Release, v.Name, v.Uses)
				return
			}
			require.Error(t, err, "kernel %s lacks %s: %s must fail to %s, but it worked",
				kernel.Release, v.Uses, v.Program, v.Stage)
			assert.Contains(t, err.Error(), wantError(v), "kernel %s: %s failed for another reason", kernel.Release, v.Program)
			assert.Contains(t, err.Error(), v.Program, "the error names another program")
			t.Logf("kernel %s: the broken %s build fails to %s as expected: %v", kernel.Release, v.Name, v.Stage, firstLine(err.Error()))
		})
	}
}

// variantSpec is v's object with v.Program its only program and only the
// maps it uses: the verdicts are about that program, and relocating or
// verifying the others would be done for nothing.
func variantSpec(t *testing.T, v broken.Variant) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(v.Object))
	require.NoError(t, err)
	ps := spec.Programs[v.Program]
	require.NotNil(t, ps, "program %s", v.Program)
	spec.Programs = map[string]*ebpf.ProgramSpec{v.Program: ps}
	// The maps it does not use (connect_sk, a preallocated hash) go too.
	used := map[string]bool{}
	for _, ins := range ps.Instructions {
		if ins.IsLoadFromMap() {
			used[ins.Reference()] = true
		}
	}
	maps.DeleteFunc(spec.Maps, func(name string, _ *ebpf.MapSpec) bool { return !used[name] })
	maps.DeleteFunc(spec.Variables, func(_ string, vs *ebpf.VariableSpec) bool { return !used[vs.SectionName] })
	return spec
}

// predictVariant is the offline prediction (vmtest core-report) for v's
// program (spec, from variantSpec) from the running kernel's own BTF.
func predictVariant(t *testing.T, spec *ebpf.CollectionSpec, v broken.Variant) corereport.Program {
	t.Helper()
	kt, err := kernel.Types.Kernel()
	require.NoError(t, err)
	res, err := corereport.Relocate(spec, kt, corereport.Options{MapFallbacks: probes.MapFallbacks})
	require.NoError(t, err)
	for _, p := range res.Programs {
		if p.Name == v.Program {
			return p
		}
	}
	require.Fail(t, fmt.Sprintf("no program %s in the prediction", v.Program))
	return corereport.Program{}
}

// loadVariant loads v's program (spec, from variantSpec) the way the probes'
// loader does (ring buffer or perf by the kernel) and, for a variant that
// fails at attach time, attaches it to its section's target. The error names
// the failing program.
func loadVariant(t *testing.T, spec *ebpf.CollectionSpec, v broken.Variant) error {
	t.Helper()
	out := probes.OutputPerf
	if kernel.Expect.RingBuf {
		out = probes.OutputRingbuf
	}
	// The ring's size does not enter the verdict (the verifier does not
	// check reservations against it); one page spares allocating and
	// mapping the default megabyte for each variant.
	require.NoError(t, probes.SetOutput(spec, out, os.Getpagesize()))
	// A log buffer big enough from the start spares the verifier the reruns
	// that grow it (a rejection is reported from its log).
	ps := spec.Programs[v.Program]
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{
		Programs: ebpf.ProgramOptions{LogSizeStart: 4 << 20},
		Cache:    kernel.Types,
	})
	if err != nil {
		return err
	}
	defer coll.Close()
	if v.Stage != broken.Attach {
		return nil
	}
	var l link.Link
	switch {
	case ps.Type == ebpf.Kprobe && strings.HasPrefix(ps.SectionName, "kretprobe/"):
		l, err = link.Kretprobe(ps.AttachTo, coll.Programs[v.Program], nil)
	case ps.Type == ebpf.Kprobe:
		l, err = link.Kprobe(ps.AttachTo, coll.Programs[v.Program], nil)
	case ps.Type == ebpf.Tracing:
		l, err = link.AttachTracing(link.TracingOptions{Program: coll.Programs[v.Program]})
	default:
		require.Fail(t, fmt.Sprintf("attach %s: section %s not handled", v.Program, ps.SectionName))
	}
	if err != nil {
		return fmt.Errorf("attach program %s to %s: %w", v.Program, ps.AttachTo, err)
	}
	return l.Close()
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
