package harness

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/corematrix/corematrix/harness/ground"
	"github.com/corematrix/corematrix/probes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// stormSize is the number of children of an exec storm.
const stormSize = 1000

// stormBatch bounds how many gated children wait at once (each holds a pipe).
const stormBatch = 250

// storm execs n children of workload.storm, each targeted in tr before it
// execs, and returns their pids once all exited 0: each exit 0 proves the
// exec, and with it one exec event sent, happened. With cpu >= 0 every child
// is pinned to that CPU.
func storm(t *testing.T, tr *probes.Tracer, n, cpu int) []int {
	t.Helper()
	installWorkload(t)
	type result struct {
		pids []int
		err  error
	}
	done := make(chan result)
	go func() {
		// Children inherit the forking thread's affinity. The thread is
		// never unlocked, so Go discards it when this goroutine ends.
		runtime.LockOSThread()
		if cpu >= 0 {
			var set unix.CPUSet
			set.Set(cpu)
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				done <- result{err: fmt.Errorf("pin to cpu %d: %w", cpu, err)}
				return
			}
		}
		pids, err := stormOn(tr, n)
		done <- result{pids, err}
	}()
	r := <-done
	require.NoError(t, r.err)
	return r.pids
}

func stormOn(tr *probes.Tracer, n int) ([]int, error) {
	var pids []int
	for len(pids) < n {
		var batch []*ground.Child
		kill := func() {
			for _, c := range batch {
				c.Kill()
			}
		}
		for i := 0; i < stormBatch && len(pids)+len(batch) < n; i++ {
			c, err := ground.SpawnGated(workload.gate, workload.storm, ground.SpawnOptions{})
			if err != nil {
				kill()
				return nil, err
			}
			batch = append(batch, c)
		}
		tgids := make([]uint32, len(batch))
		for i, c := range batch {
			tgids[i] = uint32(c.Pid)
		}
		if err := tr.AddTargets(tgids...); err != nil {
			kill()
			return nil, err
		}
		for _, c := range batch {
			if err := c.Open(); err != nil {
				kill()
				return nil, err
			}
		}
		for _, c := range batch {
			code, err := c.Wait()
			if err != nil {
				kill()
				return nil, err
			}
			if code != 0 {
				kill()
				return nil, fmt.Errorf("storm child %d exited %d, want 0 (exec failed?)", c.Pid, code)
			}
			pids = append(pids, c.Pid)
		}
	}
	return pids, nil
}

// TestLossNone execs a storm of stormSize children under the shared tracer
// (default buffer sizes, every program attached, events consumed as they
// come) and requires every exec event, and no drop.
func TestLossNone(t *testing.T) {
	forModes(t, func(t *testing.T, s *session) {
		before, err := s.tr.Stats()
		require.NoError(t, err)
		start := time.Now()
		pids := storm(t, s.tr, stormSize, -1)
		spawned := time.Since(start)
		t.Cleanup(func() { _ = s.tr.RemoveTargets(u32s(pids)...) })
		for _, pid := range pids {
			wait(t, s, pid, fmt.Sprintf("exec of storm child %d", pid), func(e *probes.Exec) bool { return int(e.TGID) == pid })
		}
		after, err := s.tr.Stats()
		require.NoError(t, err)
		t.Logf("%d children exec'd in %v, all %d exec events received after %v", len(pids), spawned.Round(time.Millisecond), len(pids), time.Since(start).Round(time.Millisecond))
		assert.Equal(t, before.Dropped(), after.Dropped(), "drops during the storm: before %+v after %+v", before, after)
		assert.Equal(t, before.PerfOutputErrors, after.PerfOutputErrors, "perf output errors during the storm: before %+v after %+v", before, after)
	})
}

// TestLossCounted execs a storm into a deliberately tiny buffer that nobody
// reads while it runs, then drains it: every exec event sent must be either
// received or counted as dropped, exactly. Only the exec program is attached
// and only the storm's children are targets, so the sent count is known: one
// per child that exited 0. The storm is pinned to one CPU, and one more
// pinned child runs after the drain: the perf buffer reports lost samples
// with the next record it can store.
func TestLossCounted(t *testing.T) {
	need(t)
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			o := probes.Options{ForcePerf: m.perf, Filter: true, Kinds: []probes.Kind{probes.KindExec}}
			if m.perf {
				o.PerfBufferSize = 4096 // one page per CPU
			} else {
				o.RingBufferSize = 4096
			}
			s, err := openSession(m, o)
			require.NoError(t, err)
			defer s.tr.Close()
			var set unix.CPUSet
			require.NoError(t, unix.SchedGetaffinity(0, &set))
			cpu := 0
			for !set.IsSet(cpu) {
				cpu++
			}

			pids := storm(t, s.tr, stormSize, cpu)
			received := drain(t, s.tr, pids)
			flush := storm(t, s.tr, 1, cpu)
			received += drain(t, s.tr, flush)
			st, err := s.tr.Stats()
			require.NoError(t, err)
			sent := uint64(len(pids) + len(flush))
			t.Logf("sent %d, received %d, stats %+v", sent, received, st)
			assert.Less(t, received, sent, "the tiny buffer did not overflow; the test proves nothing")
			assert.Equal(t, sent, received+st.Dropped(), "sent != received + dropped: received %d, stats %+v", received, st)
			if m.perf {
				assert.Equal(t, sent, received+st.PerfOutputErrors,
					"sent != received + perf output errors counted in BPF: received %d, stats %+v", received, st)
			}
			assert.Zero(t, st.DecodeErrors, "decode errors; stats %+v", st)
		})
	}
}

// drainIdle is how long drain waits for a record before it calls the buffer
// empty. Every record is already written when drain starts (the exec path
// outputs synchronously and every child has been reaped), so this only needs
// to cover the reader's own latency.
const drainIdle = 500 * time.Millisecond

// drain reads until the buffer is empty and returns the number of exec events
// of pids it held. Any other event fails t.
func drain(t *testing.T, tr *probes.Tracer, pids []int) uint64 {
	t.Helper()
	want := map[uint32]bool{}
	for _, p := range pids {
		want[uint32(p)] = true
	}
	var n uint64
	for {
		ctx, cancel := context.WithTimeout(context.Background(), drainIdle)
		ev, err := tr.Read(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return n
		}
		require.NoError(t, err)
		e, ok := ev.(*probes.Exec)
		require.True(t, ok, "unexpected event %s", ev)
		require.True(t, want[e.TGID], "exec of a non-storm tgid: %s", ev)
		delete(want, e.TGID)
		n++
	}
}

func u32s(pids []int) []uint32 {
	out := make([]uint32, len(pids))
	for i, p := range pids {
		out[i] = uint32(p)
	}
	return out
}
