package harness

import (
	"os"
	"testing"

	"github.com/corematrix/corematrix/harness/ground"
	"github.com/corematrix/corematrix/probes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExec checks every field of the exec event of a child exec'd through a
// known path under a non-root uid and gid against /proc.
func TestExec(t *testing.T) {
	var c *ground.Child
	var st ground.Stat
	var chain []int
	var parentComm string
	forModes(t, func(t *testing.T, ss []*session) {
		installWorkload(t)
		c = spawnTargeted(t, ss, workload.block, ground.SpawnOptions{Cred: &ground.DefaultCred})
		// Ground truth, read while the child is blocked (alive, comm final).
		st = waitProc(t, c.Pid, blockName, 'S')
		var err error
		chain, err = ground.Ancestry(c.Pid)
		require.NoError(t, err)
		parentComm, err = ground.ReadComm(st.PPid)
		require.NoError(t, err)
		code, err := c.Wait()
		require.NoError(t, err)
		assert.Equal(t, blockCode, code, "child exit status")
	}, func(t *testing.T, s *session) {
		ev := wait(t, s, c.Pid, "exec", func(e *probes.Exec) bool { return int(e.TGID) == c.Pid })
		assert.Equal(t, uint32(c.Pid), ev.PID, "pid; event %s", ev)
		assert.Equal(t, uint32(c.Pid), ev.TGID, "tgid; event %s", ev)
		assert.Equal(t, uint32(os.Getpid()), ev.PPID, "ppid; event %s", ev)
		assert.Equal(t, uint32(st.PPid), ev.PPID, "ppid vs /proc; event %s", ev)
		assert.Equal(t, blockName, ev.Comm.String(), "comm; event %s", ev)
		assert.Equal(t, parentComm, ev.ParentComm.String(), "parent comm; event %s", ev)
		assert.Equal(t, ground.DefaultCred.UID, ev.UID, "uid; event %s", ev)
		assert.Equal(t, ground.DefaultCred.GID, ev.GID, "gid; event %s", ev)
		assert.Equal(t, workload.block, ev.Filename.String(), "filename; event %s", ev)
		ticks := ground.TicksFromNanos(ev.StartNs)
		assert.InDelta(t, float64(st.StartTime), float64(ticks), 1,
			"start time: /proc starttime %d ticks, event start_ns %d = %d ticks", st.StartTime, ev.StartNs, ticks)
		assert.Equal(t, uint32(len(chain)), ev.Depth, "depth: /proc ancestry %v; event %s", chain, ev)
		assert.False(t, ev.DepthTruncated, "depth truncated; event %s", ev)
		assert.Equal(t, wantCore(s.mode, probes.KindExec), ev.Core, "core bits; event %s", ev)
	})
}

// TestExit checks that a child's exit event carries its pid and exit code.
func TestExit(t *testing.T) {
	var c *ground.Child
	forModes(t, func(t *testing.T, ss []*session) {
		installWorkload(t)
		c = spawnTargeted(t, ss, workload.exit, ground.SpawnOptions{Cred: &ground.DefaultCred})
		code, err := c.Wait()
		require.NoError(t, err)
		require.Equal(t, exitCode, code, "child exit status (ground truth)")
	}, func(t *testing.T, s *session) {
		ev := wait(t, s, c.Pid, "exit", func(e *probes.Exit) bool { return int(e.TGID) == c.Pid })
		assert.Equal(t, uint32(c.Pid), ev.PID, "pid; event %s", ev)
		assert.Equal(t, int64(exitCode)<<8, ev.Code, "do_exit code; event %s", ev)
		status, sig := ev.Status()
		assert.Equal(t, exitCode, status, "status; event %s", ev)
		assert.Zero(t, sig, "signal; event %s", ev)
		assert.Equal(t, "cm-exit-probe", ev.Comm.String(), "comm; event %s", ev)
		assert.Equal(t, wantCore(s.mode, probes.KindExit), ev.Core, "core bits; event %s", ev)
	})
}

// TestSchedState checks that a child blocked reading an empty pipe is seen
// switched out in TASK_INTERRUPTIBLE, read through the kernel's state field.
// The child is released only once every tracer saw it switch out.
func TestSchedState(t *testing.T) {
	var c *ground.Child
	evs := map[*session]*probes.SchedState{}
	forModes(t, func(t *testing.T, ss []*session) {
		installWorkload(t)
		c = spawnTargeted(t, ss, workload.block, ground.SpawnOptions{})
		for _, s := range ss {
			evs[s] = wait(t, s, c.Pid, "sched_switch out of the blocked child ("+s.mode.name+")", func(e *probes.SchedState) bool {
				return int(e.TGID) == c.Pid && e.Comm.String() == blockName && e.Report == probes.TaskInterruptible
			})
		}
		st := waitProc(t, c.Pid, blockName, 'S')
		assert.Equal(t, byte('S'), st.State, "/proc state")
		code, err := c.Wait()
		require.NoError(t, err)
		assert.Equal(t, blockCode, code, "child exit status")
	}, func(t *testing.T, s *session) {
		ev := evs[s]
		assert.Equal(t, uint32(c.Pid), ev.PID, "pid; event %s", ev)
		assert.Equal(t, uint64(probes.TaskInterruptible), ev.State&probes.TaskReport, "state; event %s", ev)
		assert.Equal(t, wantCore(s.mode, probes.KindSched), ev.Core, "core bits; event %s", ev)
	})
}
