package harness

import (
	"bytes"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/corematrix/corematrix/harness/broken"
	"github.com/corematrix/corematrix/probes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrokenTracerCaught loads each deliberately broken build of the tracer
// (one CO-RE guard removed, see package broken) and requires exactly the
// verdict the kernel calls for: it loads on kernels that still have the old
// field, and on kernels that renamed it the program with the unguarded read is
// rejected as a bad CO-RE relocation. This is the suite proving it can tell
// kernels apart; it stays green while the real tracer is correct.
func TestBrokenTracerCaught(t *testing.T) {
	need(t)
	require.NoError(t, kernel.BTFError, "kernel BTF")
	for _, v := range broken.Variants() {
		t.Run(v.Name, func(t *testing.T) {
			renamed := kernel.Version.AtLeast(v.Major, v.Minor)
			byBTF := map[string]bool{"state": kernel.BTF.StateNew, "start": kernel.BTF.StartBoottime}[v.Name]
			require.Equal(t, renamed, byBTF, "kernel %s: version says %s renamed=%t, BTF says %t",
				kernel.Release, v.Field, renamed, byBTF)

			spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(v.Object))
			require.NoError(t, err)
			out := probes.OutputPerf
			if kernel.Expect.RingBuf {
				out = probes.OutputRingbuf
			}
			require.NoError(t, probes.SetOutput(spec, out, 0))
			coll, err := ebpf.NewCollection(spec)
			if coll != nil {
				coll.Close()
			}
			if !renamed {
				require.NoError(t, err, "kernel %s still has %s: the broken %s build must load", kernel.Release, v.Field, v.Name)
				t.Logf("kernel %s still has %s: the broken %s build loads, as it should", kernel.Release, v.Field, v.Name)
				return
			}
			require.Error(t, err, "kernel %s has no %s (%d.%d+): the unguarded read in %s must be rejected, but the object loaded",
				kernel.Release, v.Field, v.Major, v.Minor, v.Program)
			assert.Contains(t, err.Error(), "bad CO-RE relocation", "kernel %s: %s rejected for another reason", kernel.Release, v.Program)
			assert.Contains(t, err.Error(), v.Program, "the error names another program")
			t.Logf("kernel %s rejects the broken %s build as expected: %v", kernel.Release, v.Name, firstLine(err.Error()))
		})
	}
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
