package vmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/corematrix/corematrix/internal/beneath"
	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest/guest"
	"github.com/corematrix/corematrix/vmtest/qemu"
	"github.com/corematrix/corematrix/vmtest/share"
	"github.com/corematrix/corematrix/vmtest/wire"
)

// File names the runner writes into a kernel's report directory.
const (
	ConsoleFile = "console.log" // ttyS0: the kernel console (quiet)
	ResultsFile = "serial1.raw" // ttyS1: the raw results stream
)

// State is where one kernel's run is.
type State string

const (
	StateQueued    State = "queued"
	StateResolving State = "resolving"
	StateBooting   State = "booting"
	StateRunning   State = "running"
	StateDone      State = "done"
)

// errNoHello means the guest init did not speak before the probe deadline.
var errNoHello = errors.New("the guest init did not speak before the deadline")

// boot is one QEMU run.
type boot struct {
	qemu      string
	kernel    kernel.Kernel
	initramfs string
	dir       string
	memoryMiB int
	cpus      int
	accel     string
	timeout   time.Duration
	// helloDeadline, when set, kills QEMU and returns errNoHello if the
	// guest init has not spoken by then (the KVM probe).
	helloDeadline time.Duration
	onState       func(State)
	// shell, when set, relays the guest's shell port (QEMU listening on
	// shellSock) to the user's terminal once the guest starts the shell.
	shell     *Shell
	shellSock string
	// follow, when set, prints the payload's output as it arrives.
	follow *wire.Follower
	// share is how the guest gets its files; exports are served for its
	// mode (by daemon, one virtiofsd per export, for virtiofs), with
	// sockets in a directory under tmp.
	share   share.Decision
	exports []share.Export
	daemon  *share.Daemon
	session *share.Session // the running daemons, for why QEMU failed
	early   *daemons       // daemons prestart started for the next run
	// memory, after a virtiofs run, is why the guest's RAM was not on
	// huge pages (nil when it was).
	memory error
	tmp    string
	// limit is the budget for what the guest sends (results and console
	// bytes together): QEMU is stopped when it is exceeded.
	limit int64
}

// bootResult is what one QEMU run left behind.
type bootResult struct {
	evidence Evidence
	started  time.Time
	hello    time.Time // zero when the init never spoke
	payload  time.Time // when the payload section began
	trailer  time.Time // zero when the payload trailer never came
	ended    time.Time
	// cpu is the CPU time QEMU used (user + system): on a shared host it
	// measures the work of a boot where wall time measures the neighbours.
	cpu time.Duration
}

// pollInterval is how often the results file is read on while QEMU runs. It
// is also the resolution of a verdict's phase timings (boot to init, init
// setup, payload, power-off); the verdict itself comes when QEMU exits.
const pollInterval = 10 * time.Millisecond

// run boots QEMU once and waits for it to exit, for the deadline, for the
// hello deadline of a KVM probe or for ctx, watching the results port as it
// fills; it returns what the guest left behind. An error means the host
// could not run the boot.
func (b *boot) run(ctx context.Context) (*bootResult, error) {
	if b.limit <= 0 {
		b.limit = wire.DefaultLimit
	}
	// The console log and the results stream are created in the kernel's
	// directory without following a link planted there, and QEMU writes
	// them through the descriptors vmtest opened (/dev/fd/N), never by path.
	dir, err := beneath.Open(b.dir)
	if err != nil {
		return nil, fmt.Errorf("report directory: %w", err)
	}
	defer dir.Close()
	files, err := createLogs(dir)
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if err != nil {
		return nil, err
	}
	console, err := dir.Open(ConsoleFile)
	if err != nil {
		return nil, err
	}
	defer console.Close()
	res := &bootResult{started: time.Now()}
	res.evidence.Timeout = b.timeout
	extra, shareFiles, stopShare, err := b.startShare(ctx, 3+len(files))
	if err != nil {
		return nil, err
	}
	// The daemons stop after QEMU (this returns only once QEMU exited).
	defer stopShare()
	q, err := b.start("/dev/fd/3", "/dev/fd/4", extra, append(files, shareFiles...)...)
	if err != nil {
		return nil, err
	}
	b.state(StateBooting)
	var shell *relay
	if b.shell != nil {
		if shell, err = dialRelay(b.shellSock, b.shell.In, b.shell.Out, q.done); err != nil {
			q.kill()
			return nil, fmt.Errorf("connect to the guest's shell port: %w", err)
		}
		defer shell.stop()
	}
	results, err := dir.Open(ResultsFile)
	if err != nil {
		q.kill()
		return nil, fmt.Errorf("open results: %w", err)
	}
	w := newWatcher(results, b.limit)
	defer w.close()
	waitErr, killed, err := b.wait(ctx, q, w, res, shell, console)
	if err != nil {
		return nil, err
	}
	res.ended = time.Now()
	if st := q.cmd.ProcessState; st != nil {
		res.cpu = st.UserTime() + st.SystemTime()
	}
	if err := b.observe(w, res, res.ended); err != nil {
		return nil, err
	}
	if waitErr != nil && !killed {
		res.evidence.QEMUError = q.failure(waitErr)
		if err := b.session.Failure(); err != nil {
			res.evidence.QEMUError = fmt.Errorf("%w (%w)", res.evidence.QEMUError, err)
		}
	}
	if res.evidence.OverBudget == 0 && b.overBudget(w, console) {
		res.evidence.OverBudget = b.limit
	}
	res.evidence.Results = w.data
	if res.evidence.Console, err = io.ReadAll(io.LimitReader(console, b.limit)); err != nil {
		return nil, fmt.Errorf("read console log: %w", err)
	}
	return res, nil
}

// createLogs creates (or empties) the console log and the results stream in
// dir, for QEMU to write; the files made so far come back with an error.
func createLogs(dir *beneath.Dir) ([]*os.File, error) {
	var files []*os.File
	for _, name := range []string{ConsoleFile, ResultsFile} {
		f, err := dir.Create(name, 0o644, beneath.Replace)
		if err != nil {
			return files, err
		}
		files = append(files, f)
	}
	return files, nil
}

// overBudget reports whether the results read so far and the console log
// together exceed the budget.
func (b *boot) overBudget(w *watcher, console *os.File) bool {
	if w.full {
		return true
	}
	n := int64(len(w.data))
	if st, err := console.Stat(); err == nil {
		n += st.Size()
	}
	return n > b.limit
}

// shellWanted reports whether the host opens the shell the guest announced
// in the results stream data: always for `vmtest shell`; for
// --shell-on-fail only after a payload section, intact, whose trailer says
// the payload failed or could not run. A `shell` line alone, which any
// guest can print, never hands over the terminal or lifts the deadline.
func shellWanted(sh *Shell, data []byte, limit int64) bool {
	if sh == nil {
		return false
	}
	if !sh.OnFail {
		return true
	}
	p := wire.ParseLimit(data, limit).Section(wire.SectionPayload)
	return p != nil && p.Err == nil && (p.Exit != 0 || p.InitError != "")
}

// qemuProcess is a running QEMU.
type qemuProcess struct {
	cmd *exec.Cmd
	// exited receives cmd.Wait's error once; done is closed then.
	exited chan error
	done   chan struct{}
	// output keeps the start of QEMU's own diagnostics.
	output bytes.Buffer
}

// start starts QEMU for this boot, writing the console and the results port
// to the files at those paths, with more arguments (shared directories);
// files are open files QEMU inherits as descriptors 3, 4, ... (the paths
// may name them as /dev/fd/N).
func (b *boot) start(console, results string, more []string, files ...*os.File) (*qemuProcess, error) {
	args, err := qemu.Args(qemu.Config{
		Arch: GuestArch(b.kernel), Kernel: b.kernel.Path, Initramfs: b.initramfs,
		Console: console, Results: results,
		MemoryMiB: b.memoryMiB, CPUs: b.cpus, Accel: b.accel,
		Append: []string{guest.EncodeKernelParam(b.kernel.Name)},
		Shell:  b.shellSock,
		Extra:  more,
	})
	if err != nil {
		return nil, err
	}
	q := &qemuProcess{cmd: exec.Command(b.qemu, args...), exited: make(chan error, 1), done: make(chan struct{})}
	// QEMU dies with vmtest, whatever kills vmtest: no orphan guest.
	q.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	q.cmd.Stdin = nil
	q.cmd.Stdout = &limitedBuffer{buf: &q.output, max: 64 << 10}
	q.cmd.Stderr = q.cmd.Stdout
	q.cmd.ExtraFiles = files
	if err := q.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", b.qemu, err)
	}
	go func() {
		err := q.cmd.Wait()
		close(q.done)
		q.exited <- err
	}()
	return q, nil
}

// kill kills QEMU and returns once it has exited, with Wait's error.
func (q *qemuProcess) kill() error {
	q.cmd.Process.Kill()
	return <-q.exited
}

// failure is the error of a QEMU that exited on its own with waitErr: the
// last line of its diagnostics says why.
func (q *qemuProcess) failure(waitErr error) error {
	msg := strings.TrimSpace(q.output.String())
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	return fmt.Errorf("qemu: %w: %s", waitErr, msg)
}

// wait watches the results port while QEMU runs, until QEMU exits (waitErr
// is its error) or is killed (killed: at the deadline, or when ctx ends,
// both recorded in res's evidence). The deadline is off once the guest's
// shell is on the user's terminal. An error (QEMU killed too) means the run
// cannot be judged: the results file could not be read, or a KVM probe's
// guest did not speak in time (errNoHello).
func (b *boot) wait(ctx context.Context, q *qemuProcess, w *watcher, res *bootResult, shell *relay, console *os.File) (waitErr error, killed bool, err error) {
	deadline := time.NewTimer(b.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	shellOn, shellRefused := false, false
	for {
		select {
		case exitErr := <-q.exited:
			return exitErr, false, nil
		case now := <-tick.C:
			if err := b.observe(w, res, now); err != nil {
				q.kill()
				return nil, false, err
			}
			if b.overBudget(w, console) {
				// The guest sends more than the run allows: stop it before
				// it fills the disk or the host's memory.
				res.evidence.OverBudget = b.limit
				return q.kill(), true, nil
			}
			if shell != nil && !shellOn && !shellRefused && w.seen(shellLine) {
				if shellWanted(b.shell, w.data, b.limit) {
					// The user is at the keyboard now: no deadline.
					shellOn = true
					deadline.Stop()
					shell.start()
				} else {
					// The guest announced a shell the host did not ask for:
					// the terminal stays the host's, the deadline holds.
					shellRefused = true
				}
			}
			if b.helloDeadline > 0 && res.hello.IsZero() && now.Sub(res.started) > b.helloDeadline {
				q.kill()
				return nil, false, errNoHello
			}
		case <-deadline.C:
			if shellOn {
				continue
			}
			res.evidence.TimedOut = true
			return q.kill(), true, nil
		case <-ctx.Done():
			// Interrupted: stop QEMU, keep what the guest sent so far
			// (the payload may have finished with its verdict).
			res.evidence.Interrupted = true
			return q.kill(), true, nil
		}
	}
}

// observe reads what the guest added to the results port, passes it on to
// the follower, and notes at now each marker seen for the first time.
func (b *boot) observe(w *watcher, res *bootResult, now time.Time) error {
	if err := w.poll(); err != nil {
		return err
	}
	b.feed(w.data)
	for _, m := range []struct {
		at     *time.Time
		marker []byte
		state  State
	}{
		{&res.hello, helloLine, StateRunning},
		{&res.payload, payloadBegin, ""},
		{&res.trailer, payloadTrailer, ""},
	} {
		if m.at.IsZero() && w.seen(m.marker) {
			*m.at = now
			if m.state != "" {
				b.state(m.state)
			}
		}
	}
	return nil
}

// timings fills the phases of t that this run reached.
func (r *bootResult) timings(t *report.Timings) {
	t.QEMUCPU = r.cpu.Seconds()
	if r.hello.IsZero() {
		return
	}
	t.Boot = r.hello.Sub(r.started).Seconds()
	if r.payload.IsZero() {
		return
	}
	t.Setup = r.payload.Sub(r.hello).Seconds()
	if r.trailer.IsZero() {
		return
	}
	t.Payload = r.trailer.Sub(r.payload).Seconds()
	t.PowerOff = r.ended.Sub(r.trailer).Seconds()
}

func (b *boot) feed(data []byte) {
	if b.follow != nil {
		b.follow.Feed(data)
	}
}

func (b *boot) state(s State) {
	if b.onState != nil {
		b.onState(s)
	}
}

var (
	helloLine = []byte(wire.Prefix + "hello ")
	// The begin line may carry attributes ("framing=streams").
	payloadBegin   = []byte(wire.Prefix + "begin " + wire.SectionPayload)
	payloadTrailer = []byte("\n" + wire.Prefix + "end " + wire.SectionPayload + " ")
	shellLine      = []byte(wire.ShellLine)
)

// watcher reads a growing file as a stream, keeping it open, and finds
// markers in it without rescanning what it has already searched.
type watcher struct {
	f    *os.File
	data []byte
	from map[string]int // marker -> offset to resume its search at
	// max bounds data; full is set once more was there.
	max  int64
	full bool
}

// openWatcher opens the file at path for reading as it grows, keeping at
// most max bytes.
func openWatcher(path string, max int64) (*watcher, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open results: %w", err)
	}
	return newWatcher(f, max), nil
}

// newWatcher reads f as it grows, keeping at most max bytes.
func newWatcher(f *os.File, max int64) *watcher { return &watcher{f: f, max: max} }

// poll reads what was appended since the last poll, up to the watcher's
// bound.
func (w *watcher) poll() error {
	if w.full {
		return nil
	}
	more, err := io.ReadAll(io.LimitReader(w.f, w.max-int64(len(w.data))+1))
	if int64(len(w.data)+len(more)) > w.max {
		more, w.full = more[:w.max-int64(len(w.data))], true
	}
	w.data = append(w.data, more...)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	return nil
}

func (w *watcher) close() { w.f.Close() }

// seen reports whether marker occurs in the data read so far.
func (w *watcher) seen(marker []byte) bool {
	if w.from == nil {
		w.from = map[string]int{}
	}
	start := w.from[string(marker)]
	if start < 0 {
		return true
	}
	if bytes.Contains(w.data[start:], marker) {
		w.from[string(marker)] = -1
		return true
	}
	w.from[string(marker)] = max(len(w.data)-len(marker)+1, 0)
	return false
}

// limitedBuffer keeps at most max bytes (QEMU's diagnostics).
type limitedBuffer struct {
	mu  sync.Mutex
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// startShare starts what the guest's shared files need before QEMU: the
// virtiofs daemons (those prestart started, else new ones) and the guest's
// RAM they share (share.Memory, QEMU's descriptor fd); nothing for 9p,
// which QEMU serves. It returns QEMU's extra arguments, the files QEMU
// inherits from descriptor fd on, and a function that stops the daemons
// and closes the files. Should the RAM not go on huge pages, b.memory
// says why.
func (b *boot) startShare(ctx context.Context, fd int) ([]string, []*os.File, func(), error) {
	nop := func() {}
	switch b.share.Mode {
	case share.VirtioFS:
		d := b.early
		b.early = nil
		if d == nil {
			var err error
			if d, err = b.startDaemons(ctx); err != nil {
				return nil, nil, nop, err
			}
		}
		b.session = d.session
		mem, err := share.NewMemory(b.memoryMiB)
		b.memory = err
		devices, _ := share.Layout(share.VirtioFS, b.daemon, b.exports)
		args := append(mem.Args(fd), share.QEMUArgs(share.VirtioFS, devices, d.dir)...)
		stop := func() {
			d.stop()
			mem.Close()
		}
		if mem.Huge() {
			return args, []*os.File{mem.File}, stop, nil
		}
		return args, nil, stop, nil
	case share.NineP:
		return share.QEMUArgs(share.NineP, b.exports, ""), nil, nop, nil
	}
	return nil, nil, nop, nil
}

// daemons is one start of a boot's virtiofs daemons: their session and the
// directory of their sockets. A C daemon serves one QEMU: it ends when
// QEMU closes its socket, so every run starts its own.
type daemons struct {
	session *share.Session
	dir     string
}

func (d *daemons) stop() {
	d.session.Stop()
	os.RemoveAll(d.dir)
}

// startDaemons starts the virtiofs daemons of b's exports.
func (b *boot) startDaemons(ctx context.Context) (*daemons, error) {
	dir, err := os.MkdirTemp(b.tmp, "vfs-")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInfra, err)
	}
	s, err := share.Start(ctx, b.daemon, b.exports, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %w", ErrInfra, err)
	}
	return &daemons{session: s, dir: dir}, nil
}

// prestart starts the virtiofs daemons of b's first run now, while the
// host still builds the kernel's archive: a daemon's start (a mount
// namespace, its sandbox: 75 ms on an idle host, more on a busy one) then
// overlaps the host's work instead of holding QEMU, which waits for the
// daemon's answer before it boots the guest. release stops them should no
// run take them.
func (b *boot) prestart(ctx context.Context) error {
	if b.share.Mode != share.VirtioFS {
		return nil
	}
	d, err := b.startDaemons(ctx)
	b.early = d
	return err
}

// release stops the daemons prestart started that no run took.
func (b *boot) release() {
	if b.early != nil {
		b.early.stop()
		b.early = nil
	}
}
