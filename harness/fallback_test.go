package harness

import (
	"testing"

	"github.com/corematrix/corematrix/harness/ground"
	"github.com/corematrix/corematrix/probes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFallbacks checks the CO-RE branch each program took, as its events'
// Core bits report it, against the kernel's version and, independently, its
// BTF: start_boottime from 5.5 (real_start_time before), __state from 5.14
// (state before), the ring buffer from 5.8 (perf only before).
func TestFallbacks(t *testing.T) {
	type seen struct {
		exec  *probes.Exec
		sched *probes.SchedState
	}
	evs := map[*session]seen{}
	forModes(t, func(t *testing.T, ss []*session) {
		installWorkload(t)
		require.NoError(t, kernel.BTFError, "kernel BTF")
		c := spawnTargeted(t, ss, workload.block, ground.SpawnOptions{})
		for _, s := range ss {
			evs[s] = seen{
				wait(t, s, c.Pid, "exec ("+s.mode.name+")", func(e *probes.Exec) bool { return int(e.TGID) == c.Pid }),
				wait(t, s, c.Pid, "sched_switch ("+s.mode.name+")", func(e *probes.SchedState) bool {
					return int(e.TGID) == c.Pid && e.Report == probes.TaskInterruptible
				}),
			}
		}
		code, err := c.Wait()
		require.NoError(t, err)
		assert.Equal(t, blockCode, code, "child exit status")
	}, func(t *testing.T, s *session) {
		exec, sched := evs[s].exec, evs[s].sched
		for _, tc := range []struct {
			branch     string
			core       probes.Core
			bit        probes.Core
			byVersion  bool
			byBTF      bool
			other      probes.Core
			otherLabel string
		}{
			{"start_boottime", exec.Core, probes.CoreStartBoottime, kernel.Expect.StartBoottime, kernel.BTF.StartBoottime, probes.CoreRealStartTime, "real_start_time"},
			{"__state", sched.Core, probes.CoreStateU32, kernel.Expect.StateNew, kernel.BTF.StateNew, probes.CoreStateLong, "state"},
			{"ringbuf", exec.Core, probes.CoreRingbuf, kernel.Expect.RingBuf && !s.mode.perf, kernel.BTF.RingBuf && !s.mode.perf, probes.CorePerfbuf, "perf"},
		} {
			took := tc.core.Has(tc.bit)
			assert.Equal(t, tc.byVersion, took, "kernel %s: %s taken=%t, version %v says %t (core %s)",
				kernel.Release, tc.branch, took, kernel.Version, tc.byVersion, tc.core)
			assert.Equal(t, tc.byBTF, took, "kernel %s: %s taken=%t, BTF says %t (core %s)",
				kernel.Release, tc.branch, took, tc.byBTF, tc.core)
			assert.NotEqual(t, took, tc.core.Has(tc.other), "exactly one of %s and %s must be taken (core %s)",
				tc.branch, tc.otherLabel, tc.core)
		}
	})
}

// TestDefaultOutput checks that Load without ForcePerf picks the ring buffer
// exactly on kernels that have one, and perf below 5.8. From 5.8 on the
// shared ring buffer tracer is that load (see modes), so it is checked
// instead of loading another.
func TestDefaultOutput(t *testing.T) {
	need(t)
	want := probes.OutputPerf
	if kernel.BTF.RingBuf {
		want = probes.OutputRingbuf
	}
	var got probes.Output
	if kernel.Expect.RingBuf {
		got = shared(t, ringbufMode).tr.Output()
	} else {
		// The output is chosen at load: nothing needs attaching.
		kt, err := kernel.Types.Kernel()
		require.NoError(t, err)
		tr, err := probes.Load(probes.Options{Filter: true, Kinds: []probes.Kind{probes.KindExec}, KernelTypes: kt})
		require.NoError(t, err)
		defer tr.Close()
		got = tr.Output()
	}
	assert.Equal(t, want, got, "kernel %s (BTF has bpf_ringbuf: %t)", kernel.Release, kernel.BTF.RingBuf)
}
