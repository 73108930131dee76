package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/corematrix/corematrix/harness/ground"
	"github.com/corematrix/corematrix/probes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The loss tests produce their events with open(2) in a loop: one child
// process opens and closes a file many times, a syscall apart. Each open
// is one vfs_open call, so one open event; under an emulated CPU a syscall
// costs microseconds where a fork+exec costs 15-20 ms.
const (
	// lossEvents is the number of events each loss test produces per mode.
	lossEvents = 1000
	// lossBurst is how many opens one child of TestLossNone makes before the
	// test waits for all of them to arrive: a burst of open events (about
	// 300 bytes each) fits in the default ring buffer and in one CPU's share
	// of the default perf buffer, so a reader that keeps up loses nothing,
	// however the reader and the child are scheduled.
	lossBurst = 250
	// stormSize is the number of children of TestExecStorm.
	stormSize = 20
)

// lossTarget is the file the open loops open: the open events name it.
const lossTarget = "cm-loss-target"

// opener returns a child executable that blocks until released, then opens
// and closes a file n times, and the path of that file.
func opener(t *testing.T, n uint32) (exe, file string) {
	t.Helper()
	installWorkload(t)
	exe, err := ground.Program{Steps: []ground.Step{ground.ReadStdin(), ground.OpenCloseArg(1, n, ground.OpenFailedCode)}}.Install(workload.dir, fmt.Sprintf("cm-open-%d", n))
	require.NoError(t, err)
	file = filepath.Join(workload.dir, lossTarget)
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	return exe, file
}

// openBurst runs exe (see opener) as a target of every tracer of trs,
// optionally pinned to cpu (cpu >= 0): it is targeted only after its own
// exec, so exactly its n opens of file are traced, and it returns the child's
// pid once the child exited 0, which proves every open succeeded.
func openBurst(t *testing.T, exe, file string, cpu int, trs ...*probes.Tracer) int {
	t.Helper()
	c, err := ground.Spawn(exe, ground.SpawnOptions{Args: []string{file}, PipeStdin: true})
	require.NoError(t, err)
	defer c.Kill()
	if cpu >= 0 {
		var set unix.CPUSet
		set.Set(cpu)
		require.NoError(t, unix.SchedSetaffinity(c.Pid, &set), "pin child %d to cpu %d", c.Pid, cpu)
	}
	for _, tr := range trs {
		require.NoError(t, tr.AddTargets(uint32(c.Pid)))
	}
	code, err := c.Wait()
	require.NoError(t, err)
	require.Equal(t, 0, code, "open loop child %d exit status (%d: an open failed)", c.Pid, ground.OpenFailedCode)
	for _, tr := range trs {
		require.NoError(t, tr.RemoveTargets(uint32(c.Pid)))
	}
	return c.Pid
}

// isOpenOf reports whether ev is an open of lossTarget by pid.
func isOpenOf(ev probes.Event, pid int) bool {
	o, ok := ev.(*probes.Open)
	return ok && int(o.TGID) == pid && o.Name.String() == lossTarget
}

// TestLossNone produces lossEvents open events under the shared tracers
// (default buffer sizes, every program attached, events consumed as they
// come), in bursts of lossBurst from one child each, targeted by the tracers
// of every mode at once, and requires every event and no drop in each mode.
// Each burst waits until every tracer received all of it.
func TestLossNone(t *testing.T) {
	type tally struct {
		before, after probes.Stats
		got           []int // events received per burst
	}
	tallies := map[*session]*tally{}
	var elapsed time.Duration
	forModes(t, func(t *testing.T, ss []*session) {
		exe, file := opener(t, lossBurst)
		trs := make([]*probes.Tracer, len(ss))
		for i, s := range ss {
			trs[i] = s.tr
			tallies[s] = &tally{}
			var err error
			tallies[s].before, err = s.tr.Stats()
			require.NoError(t, err)
		}
		start := time.Now()
		for produced := 0; produced < lossEvents; produced += lossBurst {
			pid := openBurst(t, exe, file, -1, trs...)
			for _, s := range ss {
				tallies[s].got = append(tallies[s].got, waitCount(t, s, pid, lossBurst, func(ev probes.Event) bool { return isOpenOf(ev, pid) }))
			}
		}
		elapsed = time.Since(start)
		for _, s := range ss {
			var err error
			tallies[s].after, err = s.tr.Stats()
			require.NoError(t, err)
		}
	}, func(t *testing.T, s *session) {
		tl := tallies[s]
		require.Len(t, tl.got, lossEvents/lossBurst, "bursts")
		for i, got := range tl.got {
			require.Equal(t, lossBurst, got, "open events of burst %d", i)
		}
		t.Logf("%d open events produced and received in %v (every mode); stats %+v", lossEvents, elapsed.Round(time.Millisecond), tl.after)
		assert.Equal(t, tl.before.Dropped(), tl.after.Dropped(), "drops: before %+v after %+v", tl.before, tl.after)
		assert.Equal(t, tl.before.PerfOutputErrors, tl.after.PerfOutputErrors, "perf output errors: before %+v after %+v", tl.before, tl.after)
	})
}

// TestExecStorm execs stormSize children back to back under the shared
// tracers, targeted by the tracers of every mode at once, and requires in
// each mode each child's exec event with its parent and filename: exec
// lineage under load, and no drop.
func TestExecStorm(t *testing.T) {
	var children []*ground.Child
	defer func() {
		for _, c := range children {
			c.Kill()
		}
	}()
	before := map[*session]probes.Stats{}
	forModes(t, func(t *testing.T, ss []*session) {
		installWorkload(t)
		for _, s := range ss {
			st, err := s.tr.Stats()
			require.NoError(t, err)
			before[s] = st
		}
		for range stormSize {
			c, err := ground.SpawnGated(workload.gate, workload.storm, ground.SpawnOptions{})
			require.NoError(t, err)
			children = append(children, c)
			for _, s := range ss {
				s.target(t, c.Pid)
			}
		}
		for _, c := range children {
			require.NoError(t, c.Open())
		}
		for _, c := range children {
			code, err := c.Wait()
			require.NoError(t, err)
			require.Equal(t, 0, code, "storm child %d exit status (exec failed?)", c.Pid)
		}
	}, func(t *testing.T, s *session) {
		for _, c := range children {
			ev := wait(t, s, c.Pid, fmt.Sprintf("exec of storm child %d", c.Pid), func(e *probes.Exec) bool { return int(e.TGID) == c.Pid })
			assert.Equal(t, uint32(os.Getpid()), ev.PPID, "ppid; event %s", ev)
			assert.Equal(t, workload.storm, ev.Filename.String(), "filename; event %s", ev)
		}
		after, err := s.tr.Stats()
		require.NoError(t, err)
		assert.Equal(t, before[s].Dropped(), after.Dropped(), "drops during the storm: before %+v after %+v", before[s], after)
	})
}

// TestLossCounted makes one child open a file lossEvents times into a
// deliberately tiny buffer that nobody reads while it runs, then drains it:
// every open event sent must be either received or counted as dropped,
// exactly. Each mode has a tracer of its own with only the open program
// attached; the child is a target of both, and only after its exec, so the
// sent count is known: one per open of a child that exited 0. The child is
// pinned to one CPU, and one more pinned child opens once after the drains:
// the perf buffer reports lost samples with the next record it can store.
func TestLossCounted(t *testing.T) {
	need(t)
	type tiny struct {
		m        mode
		s        *session
		err      error
		received uint64
	}
	var tinies, loaded []*tiny
	var trs []*probes.Tracer
	for _, m := range modes() {
		o := probes.Options{ForcePerf: m.perf, Filter: true, Kinds: []probes.Kind{probes.KindOpen}}
		if m.perf {
			o.PerfBufferSize = 4096 // one page per CPU
		} else {
			o.RingBufferSize = 4096
		}
		tn := &tiny{m: m}
		tn.s, tn.err = openSession(m, o)
		tinies = append(tinies, tn)
		if tn.err == nil {
			defer tn.s.tr.Close()
			loaded = append(loaded, tn)
			trs = append(trs, tn.s.tr)
		}
	}
	if len(loaded) > 0 {
		cpu := firstCPU(t)
		exe, file := opener(t, lossEvents)
		pid := openBurst(t, exe, file, cpu, trs...)
		for _, tn := range loaded {
			tn.received = drain(t, tn.s.tr, tn.m, pid, 0, lossEvents)
		}
		flushExe, _ := opener(t, 1)
		flush := openBurst(t, flushExe, file, cpu, trs...)
		for _, tn := range loaded {
			tn.received += drain(t, tn.s.tr, tn.m, flush, tn.received, lossEvents+1)
		}
	}
	for _, tn := range tinies {
		t.Run(tn.m.name, func(t *testing.T) {
			require.NoError(t, tn.err)
			st, err := tn.s.tr.Stats()
			require.NoError(t, err)
			sent, received := uint64(lossEvents+1), tn.received
			t.Logf("sent %d, received %d, stats %+v", sent, received, st)
			assert.Less(t, received, sent, "the tiny buffer did not overflow; the test proves nothing")
			assert.Equal(t, sent, received+st.Dropped(), "sent != received + dropped: received %d, stats %+v", received, st)
			if tn.m.perf {
				assert.Equal(t, sent, received+st.PerfOutputErrors,
					"sent != received + perf output errors counted in BPF: received %d, stats %+v", received, st)
			}
			assert.Zero(t, st.DecodeErrors, "decode errors; stats %+v", st)
		})
	}
}

// firstCPU is the lowest CPU this process may run on.
func firstCPU(t *testing.T) int {
	t.Helper()
	var set unix.CPUSet
	require.NoError(t, unix.SchedGetaffinity(0, &set))
	cpu := 0
	for !set.IsSet(cpu) {
		cpu++
	}
	return cpu
}

// drainIdle is how long drain waits for a record before it calls the buffer
// empty. Every record is already written when drain starts (the open path
// outputs synchronously and the child has been reaped), so this only needs
// to cover the reader's own latency.
const drainIdle = 500 * time.Millisecond

// drain reads open events of pid until the buffer is empty and returns how
// many it read. Any other event fails t. It stops early, without waiting
// drainIdle, once the received events (before of them read earlier) plus the
// drops the BPF side counted reach sent: then every event sent so far is
// accounted for, and the caller checks that against the tracer's own loss
// count. A tracer that loses events silently never gets there and drains to
// idle.
func drain(t *testing.T, tr *probes.Tracer, m mode, pid int, before, sent uint64) uint64 {
	t.Helper()
	var n uint64
	for {
		st, err := tr.Stats()
		require.NoError(t, err)
		counted := st.RingbufDropped
		if m.perf {
			counted = st.PerfOutputErrors
		}
		if before+n+counted >= sent {
			return n
		}
		ctx, cancel := context.WithTimeout(context.Background(), drainIdle)
		ev, err := tr.Read(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return n
		}
		require.NoError(t, err)
		require.True(t, isOpenOf(ev, pid), "unexpected event (want opens of %s by %d): %s", lossTarget, pid, ev)
		n++
	}
}
