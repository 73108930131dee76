package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/corematrix/corematrix/harness/ground"
	"github.com/corematrix/corematrix/probes"
	"github.com/stretchr/testify/require"
)

// eventTimeout bounds every wait for an event. Generous: guests run under TCG.
const eventTimeout = 60 * time.Second

// mode is one output path the suite checks.
type mode struct {
	name string
	perf bool // force the perf event array
}

var (
	ringbufMode = mode{"ringbuf", false}
	perfMode    = mode{"perf", true}
)

// modes returns the output modes this kernel must support: the ring buffer
// from 5.8 on, the perf event array everywhere.
func modes() []mode {
	if kernel.Expect.RingBuf {
		return []mode{ringbufMode, perfMode}
	}
	return []mode{perfMode}
}

// session is a loaded and attached tracer with a collector that keeps every
// event it reads.
type session struct {
	mode   mode
	tr     *probes.Tracer
	mu     sync.Mutex
	cond   *sync.Cond
	events []probes.Event
	from   int // index of the first event the current test looks at
	err    error
	done   chan struct{}
	// core is the union of Core bits of all events seen, per kind.
	core map[probes.Kind]probes.Core
}

var sessions struct {
	sync.Mutex
	m    map[mode]*session
	errs map[mode]error
}

// shared returns the tracer of mode m, loading it on first use. A load or
// attach failure fails every test that needs it, with the same error.
func shared(t *testing.T, m mode) *session {
	t.Helper()
	s, err := tryShared(m)
	require.NoError(t, err)
	return s
}

// tryShared is shared that returns the failure instead of failing a test.
func tryShared(m mode) (*session, error) {
	sessions.Lock()
	defer sessions.Unlock()
	if s := sessions.m[m]; s != nil {
		return s, nil
	}
	if err := sessions.errs[m]; err != nil {
		return nil, err
	}
	s, err := openSession(m, probes.Options{ForcePerf: m.perf, Filter: true})
	if err != nil {
		if sessions.errs == nil {
			sessions.errs = map[mode]error{}
		}
		sessions.errs[m] = fmt.Errorf("tracer (%s) unavailable: %w", m.name, err)
		return nil, sessions.errs[m]
	}
	if sessions.m == nil {
		sessions.m = map[mode]*session{}
	}
	sessions.m[m] = s
	s.collect()
	return s, nil
}

// forModes runs produce once with the shared tracer of every mode that
// loaded (each marked), then check as one subtest per mode, which fails with
// the load error where the mode's tracer did not load. produce targets its
// processes in every tracer: each mode sees the same workload it would see
// alone, since the shared tracers stay attached from their first use to the
// end of the suite anyway, and a workload (a child's fork and exec costs
// 15-20 ms under TCG) runs once, not once per mode.
func forModes(t *testing.T, produce func(t *testing.T, ss []*session), check func(t *testing.T, s *session)) {
	t.Helper()
	need(t)
	var ss []*session
	errs := map[mode]error{}
	for _, m := range modes() {
		s, err := tryShared(m)
		if err != nil {
			errs[m] = err
			continue
		}
		s.mark()
		ss = append(ss, s)
	}
	if len(ss) > 0 {
		produce(t, ss)
	}
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			require.NoError(t, errs[m])
			for _, s := range ss {
				if s.mode == m {
					check(t, s)
				}
			}
		})
	}
}

// closeSessions closes every shared tracer.
func closeSessions() {
	sessions.Lock()
	defer sessions.Unlock()
	for _, s := range sessions.m {
		s.close()
	}
	sessions.m = nil
}

// openSession loads and attaches a tracer and checks it uses the output the
// mode and kernel call for. The collector is not started.
func openSession(m mode, o probes.Options) (*session, error) {
	start := time.Now()
	kt, err := kernel.Types.Kernel()
	if err != nil {
		return nil, fmt.Errorf("load kernel btf: %w", err)
	}
	o.KernelTypes = kt
	tr, err := probes.Load(o)
	recordPrograms(m, tr, err)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	loaded := time.Now()
	if err := tr.Attach(); err != nil {
		tr.Close()
		return nil, fmt.Errorf("attach: %w", err)
	}
	fmt.Fprintf(os.Stderr, "harness: tracer %s: load %v, attach %v\n", m.name,
		loaded.Sub(start).Round(time.Millisecond), time.Since(loaded).Round(time.Millisecond))
	want := probes.OutputPerf
	if !m.perf && kernel.Expect.RingBuf {
		want = probes.OutputRingbuf
	}
	if got := tr.Output(); got != want {
		tr.Close()
		return nil, fmt.Errorf("kernel %s, mode %s: output is %v, want %v", kernel.Release, m.name, got, want)
	}
	s := &session{mode: m, tr: tr, done: make(chan struct{}), core: map[probes.Kind]probes.Core{}}
	s.cond = sync.NewCond(&s.mu)
	return s, nil
}

// collect starts a goroutine that reads events until the tracer closes.
func (s *session) collect() {
	go func() {
		defer close(s.done)
		for {
			ev, err := s.tr.Read(context.Background())
			s.mu.Lock()
			if err != nil {
				if !errors.Is(err, probes.ErrClosed) {
					s.err = err
				}
				s.cond.Broadcast()
				s.mu.Unlock()
				return
			}
			s.events = append(s.events, ev)
			s.core[ev.Hdr().Kind] |= ev.Hdr().Core
			s.cond.Broadcast()
			s.mu.Unlock()
		}
	}()
}

func (s *session) close() {
	s.tr.Close()
	<-s.done
}

// mark makes later waits ignore the events collected so far.
func (s *session) mark() {
	s.mu.Lock()
	s.from = len(s.events)
	s.mu.Unlock()
}

// target adds tgids to the tracer's filter and removes them when t ends.
func (s *session) target(t *testing.T, tgids ...int) {
	t.Helper()
	u := make([]uint32, len(tgids))
	for i, p := range tgids {
		u[i] = uint32(p)
	}
	require.NoError(t, s.tr.AddTargets(u...), "add targets %v", tgids)
	t.Cleanup(func() { _ = s.tr.RemoveTargets(u...) })
}

// watch calls visit on every event since mark, in order and as they arrive
// (s.mu held), until visit returns true (then watch returns true), the
// reader fails or eventTimeout passes (then false).
func (s *session) watch(visit func(probes.Event) bool) bool {
	deadline := time.Now().Add(eventTimeout)
	timer := time.AfterFunc(eventTimeout, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := s.from; ; {
		for ; i < len(s.events); i++ {
			if visit(s.events[i]) {
				return true
			}
		}
		if s.err != nil || time.Now().After(deadline) {
			return false
		}
		s.cond.Wait()
	}
}

// wait returns the first event since mark that satisfies match, or fails t
// after eventTimeout listing what the tracer did deliver for tgid.
func wait[E probes.Event](t *testing.T, s *session, tgid int, what string, match func(E) bool) E {
	t.Helper()
	var found E
	if s.watch(func(ev probes.Event) bool {
		if e, ok := ev.(E); ok && match(e) {
			found = e
			return true
		}
		return false
	}) {
		return found
	}
	s.mu.Lock()
	var seen []string
	for _, ev := range s.events[s.from:] {
		if int(ev.Hdr().TGID) == tgid {
			seen = append(seen, ev.String())
		}
	}
	readErr := s.err
	s.mu.Unlock()
	require.Fail(t, fmt.Sprintf("%s: no matching event within %v (reader error: %v); events of tgid %d: %q",
		what, eventTimeout, readErr, tgid, seen))
	return found
}

// waitCount waits until n events since mark satisfy match and returns how
// many did: n, or fewer when eventTimeout passed first or the reader failed.
func waitCount(t *testing.T, s *session, tgid, n int, match func(probes.Event) bool) int {
	t.Helper()
	got := 0
	if !s.watch(func(ev probes.Event) bool {
		if match(ev) {
			got++
		}
		return got >= n
	}) {
		t.Logf("tgid %d: %d of %d events within %v", tgid, got, n, eventTimeout)
	}
	return got
}

// workload holds the child executables every test uses, installed once.
var workload struct {
	once sync.Once
	err  error
	dir  string
	gate string // the gate stub
	// block execs, reads its empty stdin pipe (TASK_INTERRUPTIBLE) and exits
	// with blockCode once the pipe closes.
	block string
	// exit exits at once with exitCode.
	exit string
	// open opens argv[1] and exits 0 (OpenFailedCode if the open failed).
	open string
	// storm exits 0 at once.
	storm string
}

const (
	blockName = "cm-exec-probe"
	blockCode = 42
	exitCode  = 37
	openName  = "cm-open-probe"
)

func installWorkload(t *testing.T) {
	t.Helper()
	workload.once.Do(func() {
		var cleanup func()
		workload.dir, cleanup, workload.err = ground.ChildDir()
		if workload.err != nil {
			return
		}
		cleanups = append(cleanups, cleanup)
		steps := []struct {
			dst  *string
			name string
			p    *ground.Program
		}{
			{&workload.gate, "cm-gate", nil},
			{&workload.block, blockName, &ground.Program{Code: blockCode, Steps: []ground.Step{ground.ReadStdin()}}},
			{&workload.exit, "cm-exit-probe", &ground.Program{Code: exitCode}},
			{&workload.open, openName, &ground.Program{Steps: []ground.Step{ground.OpenArg(1, ground.OpenFailedCode)}}},
			{&workload.storm, "cm-storm", &ground.Program{}},
		}
		for _, st := range steps {
			if st.p == nil {
				*st.dst, workload.err = ground.InstallGate(workload.dir, st.name)
			} else {
				*st.dst, workload.err = st.p.Install(workload.dir, st.name)
			}
			if workload.err != nil {
				return
			}
		}
	})
	require.NoError(t, workload.err, "install workload")
}

// cleanups run after every test (TestMain).
var cleanups []func()

// spawnTargeted starts a gated child that will exec target, adds its pid to
// the targets of every tracer of ss and opens the gate. The child is killed
// when t ends.
func spawnTargeted(t *testing.T, ss []*session, target string, o ground.SpawnOptions) *ground.Child {
	t.Helper()
	installWorkload(t)
	c, err := ground.SpawnGated(workload.gate, target, o)
	require.NoError(t, err)
	t.Cleanup(c.Kill)
	for _, s := range ss {
		s.target(t, c.Pid)
	}
	require.NoError(t, c.Open())
	return c
}

// waitProc polls /proc/<pid>/stat until the task has comm and state.
func waitProc(t *testing.T, pid int, comm string, state byte) ground.Stat {
	t.Helper()
	var st ground.Stat
	var err error
	deadline := time.Now().Add(eventTimeout)
	for time.Now().Before(deadline) {
		st, err = ground.ReadStat(pid)
		if err == nil && st.Comm == comm && st.State == state {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.Fail(t, fmt.Sprintf("pid %d: want comm %q state %c, /proc says %+v (err %v)", pid, comm, state, st, err))
	return st
}
