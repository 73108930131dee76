package share

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Daemon is a virtiofsd binary and how it is run.
type Daemon struct {
	Path string
	// Rust is the Rust virtiofsd (--shared-dir, --readonly, unprivileged
	// in a user namespace); otherwise it is QEMU's C daemon (root only).
	Rust bool
}

func (d *Daemon) String() string {
	if d.Rust {
		return "the Rust virtiofsd " + d.Path
	}
	return "the C virtiofsd " + d.Path + " (as root)"
}

// daemonPaths are where distributions install virtiofsd: the Rust daemon
// (Debian 13, Ubuntu 24.04, Fedora) in /usr/libexec, QEMU's C daemon
// (Debian 12) in /usr/lib/qemu.
var daemonPaths = []string{"/usr/libexec/virtiofsd", "/usr/lib/virtiofsd", "/usr/lib/qemu/virtiofsd", "/usr/libexec/qemu/virtiofsd"}

var (
	daemonOnce sync.Once
	daemonVal  *Daemon
	daemonErr  error
)

// FindDaemon returns the virtiofsd to use: $CM_VIRTIOFSD when set, else the
// first of daemonPaths (then virtiofsd on PATH) this process may run: the
// Rust daemon when it has --readonly, the C daemon only as root (it cannot
// run unprivileged). The answer is remembered for the process.
func FindDaemon() (*Daemon, error) {
	daemonOnce.Do(func() { daemonVal, daemonErr = findDaemon(os.Getenv("CM_VIRTIOFSD"), os.Geteuid()) })
	return daemonVal, daemonErr
}

func findDaemon(override string, euid int) (*Daemon, error) {
	cands := daemonPaths
	if override != "" {
		cands = []string{override}
	} else if p, err := exec.LookPath("virtiofsd"); err == nil {
		cands = append(cands, p)
	}
	var why []string
	for _, p := range cands {
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, _ := exec.CommandContext(ctx, p, "--help").CombinedOutput()
		cancel()
		help := string(out)
		switch {
		case strings.Contains(help, "--shared-dir"):
			if !strings.Contains(help, "--readonly") {
				why = append(why, p+" (Rust) has no --readonly")
				continue
			}
			return &Daemon{Path: p, Rust: true}, nil
		case strings.Contains(help, "-o source="):
			if euid != 0 {
				why = append(why, p+" is QEMU's C virtiofsd, which runs only as root")
				continue
			}
			return &Daemon{Path: p}, nil
		default:
			why = append(why, p+" is not a virtiofsd this vmtest knows")
		}
	}
	if len(why) == 0 {
		why = []string{"none installed (Debian 13 / Ubuntu 24.04: package virtiofsd)"}
	}
	return nil, fmt.Errorf("%w: %s", ErrNoDaemon, strings.Join(why, "; "))
}

// Session is the daemons of one QEMU run.
type Session struct {
	procs []*daemonProc
	dir   string
}

// socket returns the vhost-user socket of export i.
func socket(dir string, i int) string { return filepath.Join(dir, "vfs"+strconv.Itoa(i)+".sock") }

// RootTag is the one virtiofs device of a merged layout (see Layout).
const RootTag = "cm-root"

// GuestMount is where the guest mounts one export: the device Tag's
// directory Sub ("" for the whole device) at Path, with an overlay or not.
type GuestMount struct {
	Tag, Sub, Path string
	Overlay        bool
}

// Layout returns the devices QEMU serves for exports in mode and where the
// guest finds each export. With the C daemon (as root) every export is a
// read-only bind mount in one tree that a single daemon serves as one
// device: each virtio device costs the guest interrupt-link setup and a
// probe, which under TCG made a boot sharing seven directories 60% slower
// than one sharing none. Otherwise there is one device per export.
func Layout(mode Mode, d *Daemon, exports []Export) (devices []Export, mounts []GuestMount) {
	if mode == VirtioFS && d != nil && !d.Rust {
		for _, e := range exports {
			mounts = append(mounts, GuestMount{Tag: RootTag, Sub: e.Tag, Path: e.Guest, Overlay: e.Overlay})
		}
		return []Export{{Tag: RootTag}}, mounts
	}
	for _, e := range exports {
		mounts = append(mounts, GuestMount{Tag: e.Tag, Path: e.Guest, Overlay: e.Overlay})
	}
	return exports, mounts
}

// Start starts the daemons of Layout(VirtioFS, d, exports), each in its
// own process group and killed should vmtest die (Pdeathsig), serving
// read-only. Each socket in dir listens before its daemon starts (the
// daemon inherits it, --fd): QEMU may start at once, and its connection
// waits in the socket's backlog until the daemon serves it, so the
// daemon's start (mount namespaces, which wait for RCU grace periods and
// take seconds on a busy host) overlaps QEMU's. Should a daemon die, the
// socket closes with it and QEMU fails; Failure says why. Stop ends them.
func Start(ctx context.Context, d *Daemon, exports []Export, dir string) (*Session, error) {
	s := &Session{dir: dir}
	var cmds []*exec.Cmd
	var ns func() error
	if d.Rust {
		for _, e := range exports {
			cmds = append(cmds, exec.Command(d.Path, "--fd=3", "--shared-dir="+e.Host, "--readonly",
				"--sandbox=namespace", "--cache=auto", "--log-level=error"))
		}
	} else {
		root := filepath.Join(dir, "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			return nil, fmt.Errorf("virtiofsd: %w", err)
		}
		cmds = append(cmds, exec.Command(d.Path, "--fd=3", "-o", "source="+root, "-o", "cache=auto",
			"-o", "sandbox=namespace", "-o", "log_level=err", "-o", "no_posix_lock", "-o", "no_flock"))
		ns = mergedNamespace(root, exports)
	}
	for i, cmd := range cmds {
		e := RootTag
		if d.Rust {
			e = exports[i].Host
		}
		if err := s.start(ctx, cmd, socket(dir, i), ns); err != nil {
			s.Stop()
			return nil, fmt.Errorf("start virtiofsd for %s: %w", e, err)
		}
	}
	return s, nil
}

// start makes sock listen and starts cmd with it as descriptor 3. ns, when
// set, makes the namespace cmd starts in: it runs on a thread of its own,
// which cmd is started from and which stays until cmd has exited (the
// daemon's PR_SET_PDEATHSIG watches the thread that started it), then
// ends with its namespace (the goroutine never unlocks it).
func (s *Session) start(ctx context.Context, cmd *exec.Cmd, sock string, ns func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return err
	}
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	l.Close()
	if err != nil {
		return err
	}
	defer f.Close() // the daemon holds the socket from here on
	d := &daemonProc{cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &d.out, &d.out
	cmd.ExtraFiles = []*os.File{f}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	run := func() {
		if ns != nil {
			runtime.LockOSThread()
			if err := ns(); err != nil {
				started <- err
				return
			}
		}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		d.err = cmd.Wait()
		close(d.exited)
	}
	if ns == nil {
		go run()
	} else {
		go offMainThread(run)
	}
	if err := <-started; err != nil {
		return err
	}
	s.procs = append(s.procs, d)
	return nil
}

// offMainThread runs f on a thread other than the process's main thread.
// A namespace made on the main thread would show in /proc/self (the main
// thread's view) and outlive its goroutine: the runtime never ends the
// main thread, it keeps it locked. So when this goroutine lands on the main
// thread, it holds it while f runs in a goroutine of its own, which then
// cannot be scheduled there.
func offMainThread(f func()) {
	runtime.LockOSThread()
	if unix.Gettid() != unix.Getpid() {
		f() // still locked: the thread ends with this goroutine
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
	runtime.UnlockOSThread()
}

// Failure returns why a daemon of the session ended before Stop, nil when
// none did.
func (s *Session) Failure() error {
	if s == nil {
		return nil
	}
	for _, d := range s.procs {
		select {
		case <-d.exited:
			err := d.err
			if err == nil {
				err = errors.New("exited")
			}
			return fmt.Errorf("virtiofsd ended: %w: %s", err, lastLine(strings.TrimSpace(d.out.String())))
		default:
		}
	}
	return nil
}

// daemonProc is one running daemon: its output (bounded by what a daemon
// at log level error writes) and its end.
type daemonProc struct {
	cmd    *exec.Cmd
	out    syncBuffer
	exited chan struct{}
	err    error
}

// syncBuffer is a bytes.Buffer safe for the daemon's writes and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < 64<<10 {
		b.buf.Write(p[:min(len(p), 64<<10-b.buf.Len())])
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Stop ends every daemon of the session: SIGTERM to its process group, then
// SIGKILL to what is left after a second. It is safe to call twice.
func (s *Session) Stop() {
	if s == nil {
		return
	}
	for _, d := range s.procs {
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(time.Second)
	for _, d := range s.procs {
		for time.Now().Before(deadline) && syscall.Kill(-d.cmd.Process.Pid, 0) == nil {
			time.Sleep(5 * time.Millisecond)
		}
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	}
	s.procs = nil
}

// QEMUArgs returns the QEMU arguments that give the guest the exports:
// vhost-user-fs devices on the session's sockets for virtiofs (the guest's
// RAM shared with the daemons comes from Memory), virtio-9p devices
// serving each directory with readonly=on for 9p.
func QEMUArgs(mode Mode, exports []Export, sockDir string) []string {
	var args []string
	switch mode {
	case VirtioFS:
		for i, e := range exports {
			id := "cm-vfs" + strconv.Itoa(i)
			args = append(args,
				"-chardev", "socket,id="+id+",path="+escape(socket(sockDir, i)),
				"-device", "vhost-user-fs-pci,queue-size=1024,chardev="+id+",tag="+e.Tag)
		}
	case NineP:
		for i, e := range exports {
			id := "cm-9p" + strconv.Itoa(i)
			args = append(args,
				"-fsdev", "local,id="+id+",path="+escape(e.Host)+",security_model=none,readonly=on,multidevs=remap",
				"-device", "virtio-9p-pci,fsdev="+id+",mount_tag="+e.Tag)
		}
	}
	return args
}

// escape doubles commas, QEMU's option separator.
func escape(s string) string { return strings.ReplaceAll(s, ",", ",,") }
