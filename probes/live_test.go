package probes

// These tests load the object into the running kernel. They need root (or
// CAP_BPF+CAP_PERFMON) and kernel BTF, and use only the raw tracepoint
// sched_switch for live events: it needs neither kprobes nor tracefs, so it
// runs on hosts without them. Everything else is the harness' job, in VMs.
//
// Under QEMU TCG with 2+ vCPUs, attaching or detaching a sched_switch probe
// patches kernel text (text_poke_bp, an IPI to every CPU) while that very
// tracepoint runs hot; guests were seen to hang there (5.10: soft lockup in
// smp_call_function_single under bpf_raw_tp_link_release). The tests stop
// their busy threads before detaching; run them with one vCPU under TCG
// (vmtest --cpus 1) to be safe.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func requireBPF(t *testing.T) *btf.Spec {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loading BPF needs root")
	}
	kt, err := btf.LoadKernelSpec()
	if err != nil {
		t.Skipf("no kernel BTF: %v", err)
	}
	return kt
}

func TestLoadAllPrograms(t *testing.T) {
	requireBPF(t)
	for _, force := range []bool{false, true} {
		tr, err := Load(Options{ForcePerf: force})
		require.NoError(t, err, "force perf %t", force)
		if force {
			assert.Equal(t, OutputPerf, tr.Output())
		}
		stats := tr.Programs()
		var names []string
		for _, st := range stats {
			names = append(names, st.Name)
			assert.True(t, st.Loaded, "%s not loaded: %v", st.Name, st.Err)
			assert.NotZero(t, st.VerifiedInsns, "%s: verified insns", st.Name)
			assert.Positive(t, st.LoadTime, "%s: load time", st.Name)
			assert.Contains(t, st.VerifierStats, "processed ", st.Name)
			assert.NotNil(t, tr.Program(st.Name), st.Name)
		}
		var want []string
		for _, p := range Programs() {
			want = append(want, p.Name)
		}
		sort.Strings(names)
		sort.Strings(want)
		assert.Equal(t, want, names)
		require.NoError(t, tr.Close())
	}
}

// sleeper runs nanosleep on its own OS thread until stop is called, and
// returns that thread's id: a task that is switched out in
// TASK_INTERRUPTIBLE. stop waits for the thread to finish.
func sleeper(t *testing.T) (tid int, stop func()) {
	ids := make(chan int, 1)
	done := make(chan struct{})
	var quit atomic.Bool
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		ids <- unix.Gettid()
		for !quit.Load() {
			ts := unix.Timespec{Nsec: int64(time.Millisecond)}
			_ = unix.Nanosleep(&ts, nil)
		}
	}()
	stop = func() {
		quit.Store(true)
		<-done
	}
	t.Cleanup(stop)
	return <-ids, stop
}

// readSched reads events until thread tid is switched out sleeping
// (TASK_INTERRUPTIBLE) or ctx ends. A thread in nanosleep may also be switched
// out runnable (preempted, or a voluntary reschedule on the way), but every
// sleep switches it out in S, and every state seen must be a valid one.
func readSched(ctx context.Context, t *testing.T, tr *Tracer, tid int) *SchedState {
	t.Helper()
	var r Record
	var seen []string
	for {
		err := tr.ReadInto(ctx, &r)
		require.NoError(t, err, "no sleeping sched event of tid %d: %v (states seen: %v)", tid, err, seen)
		require.Equal(t, KindSched, r.Kind)
		e := r.Sched
		require.Equal(t, uint32(os.Getpid()), e.TGID, "filter let through another process")
		if int(e.PID) != tid {
			continue
		}
		require.Contains(t, []uint32{0, TaskInterruptible, TaskUninterruptible}, e.Report, "state of a sleeping thread: %s", &e)
		seen = append(seen, e.StateChar())
		if e.Report == TaskInterruptible && !e.Preempt {
			return &e
		}
	}
}

func TestSchedSwitchLive(t *testing.T) {
	requireBPF(t)
	// The task state branch follows the running kernel's BTF: __state since
	// 5.14, state before.
	stateBit := CoreStateLong
	hasState := hasMember(t, requireBPF(t), "task_struct", "__state")
	if hasState {
		stateBit = CoreStateU32
	}
	release, v := runningKernel(t)
	require.Equal(t, v.atLeast(5, 14), hasState, "kernel %s: task_struct.__state (renamed in 5.14) present = %v", release, hasState)
	tests := []struct {
		name     string
		force    bool
		wantCore Core
	}{
		{"ringbuf", false, stateBit | CoreRingbuf},
		{"perf forced", true, stateBit | CorePerfbuf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kt := requireBPF(t)
			if !tt.force {
				skipWithoutRingbuf(t, kt)
			}
			tr, err := Load(Options{ForcePerf: tt.force, Kinds: []Kind{KindSched}, Targets: []uint32{uint32(os.Getpid())}})
			require.NoError(t, err)
			defer tr.Close()
			require.NoError(t, tr.Attach(KindSched))
			assert.Equal(t, []string{"sched_switch"}, tr.Attached())

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tid, stop := sleeper(t)
			defer stop() // before tr.Close: detach on a quiet tracepoint
			e := readSched(ctx, t, tr, tid)
			assert.Equal(t, tt.wantCore, e.Core, "core bits: %s", e.Core)
			assert.Equal(t, uint32(TaskInterruptible), e.Report, "state of a thread in nanosleep: %s", e)
			assert.Equal(t, "S", e.StateChar())
			assert.Equal(t, uint64(e.Report), e.State&TaskReport)

			st, err := tr.Stats()
			require.NoError(t, err)
			assert.Positive(t, st.Events)
			assert.Zero(t, st.DecodeErrors)
		})
	}
}

func TestReadCancel(t *testing.T) {
	requireBPF(t)
	// Filter with no targets: nothing is ever emitted, so Read must return
	// because of the context.
	tr, err := Load(Options{Kinds: []Kind{KindSched}, Filter: true})
	require.NoError(t, err)
	defer tr.Close()
	require.NoError(t, tr.Attach())

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = tr.Read(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	// Read returns only because of the context (nothing is emitted); a
	// slow guest on a loaded host may take seconds to get there.
	assert.Less(t, time.Since(start), time.Minute)

	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	_, err = tr.Read(ctx2)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	done := make(chan error, 1)
	go func() {
		_, err := tr.Read(context.Background())
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, tr.Close())
	select {
	case err := <-done:
		assert.ErrorIs(t, err, ErrClosed)
	case <-time.After(5 * time.Second):
		require.Fail(t, "Read did not return after Close")
	}
}

// A tiny buffer that nobody reads must overflow, and the tracer must say so.
func TestDropsCounted(t *testing.T) {
	kt := requireBPF(t)
	tests := []struct {
		name  string
		opts  Options
		field func(Stats) uint64
	}{
		{"ringbuf reserve failures", Options{RingBufferSize: os.Getpagesize()}, func(s Stats) uint64 { return s.RingbufDropped }},
		{"perf lost samples", Options{ForcePerf: true, PerfBufferSize: os.Getpagesize()}, func(s Stats) uint64 { return s.PerfLost }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.opts.ForcePerf {
				skipWithoutRingbuf(t, kt)
			}
			opts := tt.opts
			opts.Kinds = []Kind{KindSched}
			opts.Targets = []uint32{uint32(os.Getpid())}
			tr, err := Load(opts)
			require.NoError(t, err)
			defer tr.Close()
			require.NoError(t, tr.Attach())
			for range 2000 {
				time.Sleep(10 * time.Microsecond)
			}
			// Drain; perf reports its losses as records in the stream.
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			for {
				if _, err := tr.Read(ctx); err != nil {
					require.ErrorIs(t, err, context.DeadlineExceeded)
					break
				}
			}
			st, err := tr.Stats()
			require.NoError(t, err)
			assert.Positive(t, tt.field(st), "stats %+v", st)
			assert.Positive(t, st.Dropped(), "stats %+v", st)
			assert.Positive(t, st.Events, "stats %+v", st)
		})
	}
}

// kernelVersion is a running kernel's major.minor.
type kernelVersion struct{ major, minor int }

func (v kernelVersion) atLeast(major, minor int) bool {
	return v.major > major || v.major == major && v.minor >= minor
}

// runningKernel returns the running kernel's release (uname -r) and version.
func runningKernel(t *testing.T) (string, kernelVersion) {
	t.Helper()
	var u unix.Utsname
	require.NoError(t, unix.Uname(&u))
	release := unix.ByteSliceToString(u.Release[:])
	var v kernelVersion
	_, err := fmt.Sscanf(release, "%d.%d", &v.major, &v.minor)
	require.NoError(t, err, "kernel release %q", release)
	return release, v
}

// skipWithoutRingbuf skips when kt, the running kernel's BTF, has no struct
// bpf_ringbuf, unless the kernel's version says it must have a ring buffer
// (5.8+): then the test fails instead of skipping.
func skipWithoutRingbuf(t *testing.T, kt *btf.Spec) {
	t.Helper()
	var rb *btf.Struct
	if kt.TypeByName("bpf_ringbuf", &rb) == nil {
		return
	}
	release, v := runningKernel(t)
	require.False(t, v.atLeast(5, 8), "kernel %s is 5.8+ but its BTF has no struct bpf_ringbuf", release)
	t.Skipf("kernel %s has no ring buffer (before 5.8)", release)
}

func hasMember(t *testing.T, spec *btf.Spec, typ, member string) bool {
	t.Helper()
	var s *btf.Struct
	require.NoError(t, spec.TypeByName(typ, &s))
	for _, m := range s.Members {
		if m.Name == member {
			return true
		}
	}
	return false
}

// oldKernelTypes is OldKernelTypes, failing t on error.
func oldKernelTypes(t *testing.T, host *btf.Spec, drop ...string) *btf.Spec {
	t.Helper()
	spec, err := OldKernelTypes(host, drop...)
	require.NoError(t, err)
	return spec
}

// The pre-5.5/pre-5.14 flavors and the perf fallback must pass the verifier
// and produce the right state when the BTF says the kernel is old.
func TestOldKernelFlavorsLive(t *testing.T) {
	host := requireBPF(t)
	old := oldKernelTypes(t, host)
	tr, err := Load(Options{KernelTypes: old, Kinds: []Kind{KindSched, KindExec}, Targets: []uint32{uint32(os.Getpid())}})
	require.NoError(t, err)
	defer tr.Close()
	assert.Equal(t, OutputPerf, tr.Output(), "BTF without bpf_ringbuf must select perf")
	require.NoError(t, tr.Attach(KindSched))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tid, stop := sleeper(t)
	e := readSched(ctx, t, tr, tid)
	stop()
	assert.Equal(t, CoreStateLong|CorePerfbuf, e.Core, "core bits: %s", e.Core)
	assert.Equal(t, uint32(TaskInterruptible), e.Report, "%s", e)

	t.Run("exec real_start_time", func(t *testing.T) {
		// The exec tracepoint needs tracefs; mount it only on kernels that
		// trace (kprobe PMU present), i.e. in the test VMs, not on a host
		// without tracing.
		if _, err := os.Stat("/sys/bus/event_source/devices/kprobe"); err != nil {
			// Every kernel vmtest boots traces: only a host may lack kprobes.
			require.NotEqual(t, "1", os.Getenv("CM_VMTEST"), "kernel without kprobes inside a vmtest guest: %v", err)
			t.Skip("kernel without kprobes: not mounting tracefs here")
		}
		tr, err := Load(Options{KernelTypes: old, Kinds: []Kind{KindExec}})
		require.NoError(t, err)
		defer tr.Close()
		require.NoError(t, tr.Attach())
		self, err := os.Executable()
		require.NoError(t, err)
		var before, after unix.Timespec
		require.NoError(t, unix.ClockGettime(unix.CLOCK_BOOTTIME, &before))
		cmd := exec.Command(self, "-test.run=^$")
		require.NoError(t, cmd.Run())
		require.NoError(t, unix.ClockGettime(unix.CLOCK_BOOTTIME, &after))
		for {
			ev, err := tr.Read(ctx)
			require.NoError(t, err, "no exec event of pid %d", cmd.Process.Pid)
			e, ok := ev.(*Exec)
			if !ok || int(e.PID) != cmd.Process.Pid {
				continue
			}
			assert.Equal(t, CoreRealStartTime|CorePerfbuf, e.Core, "%s", e)
			assert.Equal(t, uint32(os.Getpid()), e.PPID, "%s", e)
			assert.Equal(t, self, e.Filename.String())
			assert.GreaterOrEqual(t, e.StartNs, uint64(before.Nano()), "start time %d before the fork (%d)", e.StartNs, before.Nano())
			assert.LessOrEqual(t, e.StartNs, uint64(after.Nano()), "start time %d after the exit (%d)", e.StartNs, after.Nano())
			return
		}
	})
}

// An unguarded field missing from the kernel's BTF is a *COREError that
// names the program and the relocation; the other programs still report.
func TestCOREErrorNamesRelocation(t *testing.T) {
	host := requireBPF(t)
	broken := oldKernelTypes(t, host, "real_parent")
	_, err := Load(Options{KernelTypes: broken, Kinds: []Kind{KindSched, KindExec}})
	require.Error(t, err)

	var le *LoadError
	require.True(t, errors.As(err, &le), "error %T: %v", err, err)
	loaded := map[string]bool{}
	for _, p := range le.Programs {
		loaded[p.Name] = p.Loaded
	}
	assert.Equal(t, map[string]bool{"trace_exec": false, "sched_switch": true}, loaded)

	var ce *COREError
	require.True(t, errors.As(err, &ce), "no COREError in %v", err)
	assert.Equal(t, "trace_exec", ce.Program)
	assert.Contains(t, ce.Relocation, "field_byte_offset task_struct.real_parent", "relocation: %s", ce.Relocation)
	t.Logf("COREError: %v", ce)
}
