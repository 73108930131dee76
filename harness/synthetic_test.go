package harness

import (
	"context"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/corematrix/corematrix/probes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// synthetic collects the CO-RE branch bits of the events the tracer sent
// while relocated against synthetic BTF (TestOldFlavorsWithSyntheticBTF):
// recordBranches reports those branches as exercised with synthetic BTF on
// this kernel, never as taken by it.
var synthetic struct {
	sync.Mutex
	core probes.Core
}

// TestOldFlavorsWithSyntheticBTF relocates the tracer against synthetic BTF
// made from this kernel's own (probes.OldKernelTypes: start_boottime renamed
// real_start_time, no bpf_ringbuf), so that the exec program takes the
// pre-5.5 branch on a kernel no default-matrix kernel is old enough for, and
// checks that the start time it reads through that flavor is right.
func TestOldFlavorsWithSyntheticBTF(t *testing.T) {
	need(t)
	host, err := kernel.Types.Kernel()
	require.NoError(t, err)
	old, err := probes.OldKernelTypes(host)
	require.NoError(t, err)
	tr, err := probes.Load(probes.Options{KernelTypes: old, Kinds: []probes.Kind{probes.KindExec}})
	require.NoError(t, err)
	defer tr.Close()
	require.NoError(t, tr.Attach())

	// The workload's stub that exits 0 at once: a few hundred bytes to
	// exec, where a shell is a megabyte of busybox (and, with the host's
	// files shared, the host's own).
	installWorkload(t)
	var before, after unix.Timespec
	require.NoError(t, unix.ClockGettime(unix.CLOCK_BOOTTIME, &before))
	cmd := exec.Command(workload.storm)
	require.NoError(t, cmd.Run())
	require.NoError(t, unix.ClockGettime(unix.CLOCK_BOOTTIME, &after))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		ev, err := tr.Read(ctx)
		require.NoError(t, err, "no exec event of pid %d", cmd.Process.Pid)
		e, ok := ev.(*probes.Exec)
		if !ok || int(e.PID) != cmd.Process.Pid {
			continue
		}
		assert.True(t, e.Core.Has(probes.CoreRealStartTime), "core bits %s: the synthetic BTF must select real_start_time", e.Core)
		assert.GreaterOrEqual(t, e.StartNs, uint64(before.Nano()), "start time %d before the fork (%d)", e.StartNs, before.Nano())
		assert.LessOrEqual(t, e.StartNs, uint64(after.Nano()), "start time %d after the exit (%d)", e.StartNs, after.Nano())
		if !t.Failed() {
			synthetic.Lock()
			synthetic.core |= e.Core
			synthetic.Unlock()
		}
		return
	}
}
