package guest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/corematrix/corematrix/vmtest/wire"
)

// Main is the guest init. It never returns: whatever happens, it ends the
// results stream (with a trailer when the payload section was opened) and
// powers the VM off.
func Main() {
	dropSignals()
	consolef(StartedLine)
	g := &initRun{}
	defer g.recoverAndPowerOff()
	g.run()
}

// dropSignals catches and drops the catchable signals a payload might send
// PID 1: a signal must not end it (the kernel would panic). Caught, not
// ignored: an ignored signal stays ignored across exec, and the payload and
// the shell must get the default dispositions (Ctrl-C, SIGPIPE).
func dropSignals() {
	drop := make(chan os.Signal, 16)
	signal.Notify(drop, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)
	go func() {
		for range drop {
		}
	}()
}

// initRun is the guest init's one run: the results port and the section
// being written, which a panic must still end for the host.
type initRun struct {
	port    *os.File
	w       *wire.Writer
	section *wire.Section
}

// recoverAndPowerOff reports a panic of the init on the results port (ending
// the open section, so the host learns why) and powers the guest off.
func (g *initRun) recoverAndPowerOff() {
	if r := recover(); r != nil {
		msg := fmt.Sprintf("guest init panic: %v", r)
		consolef("corematrix: %s\n%s", msg, debug.Stack())
		if g.port != nil {
			w := wire.NewWriter(g.port)
			if g.section != nil {
				g.section.End(-1, msg)
			} else {
				w.Error(msg)
			}
			w.Done()
			drain(g.port)
		}
	}
	powerOff()
}

// run says hello on the results port, sets the guest up, runs the payload
// and sends what it left (files, facts, the kernel log), and opens the shell
// when asked for.
func (g *initRun) run() {
	if err := mount("devtmpfs", "/dev", "devtmpfs", true); err != nil {
		consolef("corematrix: %v", err)
	}
	var err error
	g.port, err = openPort(ResultsPort)
	if err != nil {
		// Nothing can reach the host; the console shows why.
		consolef("corematrix: %v", err)
		return
	}
	g.w = wire.NewWriter(g.port)
	g.w.Hello(release())

	cfg, setupErr := readConfig()
	if setupErr == nil {
		setupErr = setup()
	}
	if setupErr == nil {
		// Sharing: the host's files, read-only with an overlay, before
		// the staged files are installed on top.
		sh, ok, err := readShare()
		if err == nil && ok {
			if err = mountShares(sh); err == nil {
				cfg.Env = append(shareEnv(sh), cfg.Env...)
			}
		}
		if err != nil {
			setupErr = fmt.Errorf("share the host's files: %w", err)
		}
	}
	if setupErr == nil {
		setupErr = install()
	}
	if setupErr == nil && cfg.Shell != nil && len(cfg.Args) == 0 {
		// vmtest shell without a payload.
		g.w.Shell()
		runShell(cfg, "")
		g.finish()
		return
	}
	if g.section, err = g.w.BeginStreams(wire.SectionPayload); err != nil {
		consolef("corematrix: write results: %v", err)
		return
	}
	exit, msg, before := g.payload(cfg, setupErr)
	g.section.End(exit, msg)
	g.section = nil
	if setupErr == nil {
		collect(g.w, cfg, before)
	}
	sendFile(g.w, wire.SectionFacts, FactsPath)
	if setupErr == nil && cfg.Shell != nil && (!cfg.Shell.OnFail || exit != 0) {
		sendKmsg(g.w)
		status := fmt.Sprintf("the payload exited %d; its output is in %s", exit, OutputPath)
		if msg != "" {
			status = "the payload did not run: " + msg
		}
		g.w.Shell()
		runShell(cfg, status)
		g.w.Done()
		drain(g.port)
		return
	}
	g.finish()
}

// payload runs the payload in the payload section, unless the setup failed
// (setupErr), and returns its exit code and, when it did not run, why. before
// lists the files of the collected directories before it ran.
func (g *initRun) payload(cfg Config, setupErr error) (exit int, msg string, before map[string]bool) {
	if setupErr != nil {
		return -1, setupErr.Error(), nil
	}
	before = listFiles(cfg.CollectDirs)
	var keep io.Writer // the payload's output, for the shell's user
	if cfg.Shell != nil {
		if f, err := os.Create(OutputPath); err == nil {
			defer f.Close()
			keep = f
		}
	}
	exit, err := runPayload(cfg, g.section, keep)
	if err != nil {
		return -1, err.Error(), before
	}
	return exit, "", before
}

// finish sends the kernel log and ends the results stream.
func (g *initRun) finish() {
	sendKmsg(g.w)
	g.w.Done()
	drain(g.port)
}

// runShell runs an interactive busybox shell on ShellPort, as the session
// leader with the port as its controlling terminal, and returns when it
// exits (exit or Ctrl-D).
func runShell(cfg Config, status string) {
	tty, err := os.OpenFile(ShellPort, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		consolef("corematrix: open shell port: %v", err)
		return
	}
	defer tty.Close()
	if cfg.Shell.Rows > 0 && cfg.Shell.Cols > 0 {
		unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(cfg.Shell.Rows), Col: uint16(cfg.Shell.Cols)})
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	kernel := DecodeKernelParam(string(cmdline))
	fmt.Fprintf(tty, "corematrix: shell in kernel %s (%s)", kernel, release())
	if status != "" {
		fmt.Fprintf(tty, "; %s", status)
	}
	fmt.Fprint(tty, "\r\ncorematrix: exit or Ctrl-D powers the guest off\r\n")
	dir := cfg.Dir
	if dir == "" {
		dir = WorkDir
	}
	sh := exec.Command("/bin/sh")
	sh.Env = Environ(kernel, cfg)
	if cfg.Shell.Term != "" {
		sh.Env = append(sh.Env, "TERM="+cfg.Shell.Term)
	}
	sh.Env = append(sh.Env, "PS1=[vmtest "+kernel+" \\w]# ", "ENV=")
	sh.Dir = dir
	sh.Stdin, sh.Stdout, sh.Stderr = tty, tty, tty
	sh.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := sh.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			fmt.Fprintf(tty, "corematrix: shell: %v\r\n", err)
		}
	}
}

// setup mounts the file systems a tracer payload needs, brings lo up and
// raises RLIMIT_MEMLOCK. Only proc, sysfs and /tmp are required; the rest are
// reported on the console when the kernel lacks them. Without kernel modules
// in the guest, it also turns module autoloading off (see noModprobe).
func setup() error {
	required := []struct{ src, dst, fstype string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"tmpfs", "/tmp", "tmpfs"},
		{"tmpfs", "/run", "tmpfs"},
	}
	for _, m := range required {
		if err := mount(m.src, m.dst, m.fstype, true); err != nil {
			return err
		}
	}
	if err := noModprobe(); err != nil {
		consolef("corematrix: %v (continuing)", err)
	}
	optional := []struct{ src, dst, fstype string }{
		{"debugfs", "/sys/kernel/debug", "debugfs"},   // Requires CONFIG_DEBUG_FS.
		{"tracefs", "/sys/kernel/tracing", "tracefs"}, // Requires kernel 4.1; older kernels have debugfs/tracing.
		{"bpf", "/sys/fs/bpf", "bpf"},                 // Requires kernel 4.4.
		{"cgroup2", "/sys/fs/cgroup", "cgroup2"},      // Requires kernel 4.5.
	}
	for _, m := range optional {
		if err := mount(m.src, m.dst, m.fstype, false); err != nil {
			consolef("corematrix: %v (continuing)", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(FactsPath), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(FactsPath), err)
	}
	if err := loUp(); err != nil {
		consolef("corematrix: bring lo up: %v (continuing)", err)
	}
	inf := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &inf); err != nil {
		return fmt.Errorf("raise RLIMIT_MEMLOCK: %w", err)
	}
	return nil
}

// ModprobePath is the kernel's module loader setting.
const ModprobePath = "/proc/sys/kernel/modprobe"

// noModprobe empties ModprobePath when the guest holds no kernel modules
// (none under /lib/modules or /usr/lib/modules, installed or staged): each
// module the kernel asks for (mounting bpffs asks for bpf_preload) would
// otherwise start busybox modprobe, a fork and exec that can only fail and
// costs 10-30 ms under TCG. With the setting empty the kernel's request
// fails at once, as it would after modprobe. A payload can still run
// modprobe itself.
func noModprobe() error {
	for _, dir := range []string{"/lib/modules", "/usr/lib/modules"} {
		for _, p := range []string{dir, StagedName(dir)} {
			if _, err := os.Stat(p); err == nil {
				return nil
			}
		}
	}
	if err := os.WriteFile(ModprobePath, []byte("\n"), 0); err != nil {
		return fmt.Errorf("turn module autoloading off: %w", err)
	}
	return nil
}

func mount(src, dst, fstype string, create bool) error {
	if create {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return fmt.Errorf("mount %s: %w", dst, err)
		}
	}
	if err := unix.Mount(src, dst, fstype, 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("mount %s on %s: %w", fstype, dst, err)
	}
	return nil
}

// openPort opens the results port in raw mode: without it the tty layer would
// turn \n into \r\n (among other things) and the byte count and hash in the
// trailer would not match what the host receives.
func openPort(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open results port: %w", err)
	}
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("results port termios: %w", err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CRTSCTS | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.CLOCAL | unix.CREAD | unix.B115200
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		f.Close()
		return nil, fmt.Errorf("results port raw mode: %w", err)
	}
	return f, nil
}

// drain waits until every byte written to the port has left the UART.
func drain(f *os.File) {
	unix.IoctlSetInt(int(f.Fd()), unix.TCSBRK, 1) // tcdrain
}

func readConfig() (Config, error) {
	var cfg Config
	raw, err := os.ReadFile(ConfigPath)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if cfg, err = ParseConfig(raw); err != nil {
		return cfg, err
	}
	if len(cfg.Args) == 0 && cfg.Shell == nil {
		return cfg, errors.New("config has no payload")
	}
	return cfg, nil
}

// install moves what the host staged (StageDir) into place, now that the
// guest's own mounts exist, and installs the kernel config as
// /boot/config-$(uname -r).
func install() error {
	if _, err := os.Lstat(StageDir); err == nil {
		if err := moveTree(StageDir, "/"); err != nil {
			return fmt.Errorf("install staged files: %w", err)
		}
	}
	if _, err := os.Stat(KconfigPath); err == nil {
		if err := os.MkdirAll("/boot", 0o755); err != nil {
			return fmt.Errorf("install kernel config: %w", err)
		}
		if err := os.Rename(KconfigPath, "/boot/config-"+release()); err != nil {
			return fmt.Errorf("install kernel config: %w", err)
		}
	}
	return nil
}

// moveTree moves the entries of directory src into directory dst, merging
// into directories that exist and replacing anything else. Within one file
// system an entry is renamed; across (into a tmpfs mounted over a staged
// path) it is copied with its mode and modification time, then removed.
func moveTree(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		cur, err := os.Lstat(d)
		switch {
		case err == nil && cur.IsDir() && e.IsDir():
			if err := moveTree(s, d); err != nil {
				return err
			}
			continue
		case err == nil:
			if err := os.RemoveAll(d); err != nil {
				return err
			}
		case !errors.Is(err, os.ErrNotExist):
			return err
		}
		err = os.Rename(s, d)
		if errors.Is(err, unix.EXDEV) {
			err = copyTree(s, d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func copyTree(src, dst string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return err
	}
	switch m := st.Mode(); {
	case m&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	case m.IsDir():
		if err := os.Mkdir(dst, m.Perm()|0o700); err != nil {
			return err
		}
		ents, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := copyTree(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
		if err := os.Chmod(dst, m.Perm()); err != nil {
			return err
		}
	default:
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, m.Perm()); err != nil {
			return err
		}
		if err := os.Chmod(dst, m.Perm()); err != nil {
			return err
		}
		os.Remove(src) // frees the staged copy's memory
	}
	return os.Chtimes(dst, st.ModTime(), st.ModTime())
}

// runPayload runs the payload with its stdout and stderr framed into out
// and, when keep is not nil, copied to keep as they are.
func runPayload(cfg Config, out *wire.Section, keep io.Writer) (int, error) {
	cmdline, _ := os.ReadFile("/proc/cmdline")
	dir := cfg.Dir
	if dir == "" {
		dir = WorkDir
	}
	for _, d := range append([]string{dir}, cfg.MakeDirs...) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return -1, fmt.Errorf("create %s: %w", d, err)
		}
	}
	var pipes [2][2]*os.File // stdout, stderr: read end, write end
	for i := range pipes {
		r, w, err := os.Pipe()
		if err != nil {
			return -1, fmt.Errorf("payload pipe: %w", err)
		}
		defer r.Close()
		pipes[i] = [2]*os.File{r, w}
	}
	cmd := exec.Command(cfg.Args[0])
	cmd.Args = cfg.Args
	cmd.Env = Environ(DecodeKernelParam(string(cmdline)), cfg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = pipes[0][1], pipes[1][1]
	err := cmd.Start()
	pipes[0][1].Close()
	pipes[1][1].Close()
	if err != nil {
		return -1, fmt.Errorf("start payload: %w", err)
	}
	waited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		// Children of the payload may hold the pipes open: stop reading
		// shortly after the payload itself exits.
		for _, p := range pipes {
			p[0].SetReadDeadline(time.Now().Add(2 * time.Second))
		}
		waited <- err
	}()
	copyErr := forwardOutput(pipes[0][0], pipes[1][0], out, keep)
	waitErr := <-waited
	if copyErr != nil {
		return -1, fmt.Errorf("forward payload output: %w", copyErr)
	}
	return exitCode(cmd.ProcessState, waitErr)
}

// forwardOutput frames what the payload writes to stdout and stderr into
// out (and copies it to keep, when set) until both pipes end, and returns
// the first error but the read deadline that ends a pipe a child of the
// payload still holds.
func forwardOutput(stdout, stderr *os.File, out *wire.Section, keep io.Writer) error {
	var mu sync.Mutex
	copied := make(chan error, 2)
	for _, p := range []struct {
		f   *os.File
		tag byte
	}{{stdout, wire.TagStdout}, {stderr, wire.TagStderr}} {
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := p.f.Read(buf)
				if n > 0 {
					mu.Lock()
					werr := out.WriteFrame(p.tag, buf[:n])
					if keep != nil {
						keep.Write(buf[:n])
					}
					mu.Unlock()
					if werr != nil {
						copied <- werr
						return
					}
				}
				if err != nil {
					if errors.Is(err, io.EOF) {
						err = nil
					}
					copied <- err
					return
				}
			}
		}()
	}
	var first error
	for range 2 {
		if err := <-copied; err != nil && first == nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			first = err
		}
	}
	return first
}

// exitCode is the payload's exit code: 128+N for a death by signal N, as a
// shell reports it.
func exitCode(st *os.ProcessState, waitErr error) (int, error) {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		return -1, fmt.Errorf("wait payload: %w", waitErr)
	}
	return st.ExitCode(), nil
}

// listFiles returns the regular files under dirs.
func listFiles(dirs []string) map[string]bool {
	files := map[string]bool{}
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				files[p] = true
			}
			return nil
		})
	}
	return files
}

// collect sends the files the payload wrote for the host: cfg.CollectFiles
// that exist, and the regular files under cfg.CollectDirs that were not
// there before it started (so a packed working directory that is also the
// -test.outputdir sends back only what the payload created).
func collect(w *wire.Writer, cfg Config, before map[string]bool) {
	seen := map[string]bool{}
	send := func(p string) {
		if !seen[p] {
			seen[p] = true
			sendCollected(w, p)
		}
	}
	for _, p := range cfg.CollectFiles {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			send(p)
		}
	}
	for p := range listFiles(cfg.CollectDirs) {
		if !before[p] {
			send(p)
		}
	}
}

// sendCollected sends one file for the host; a read error travels in the
// trailer, so the host knows the file is missing rather than short.
func sendCollected(w *wire.Writer, p string) {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(p); err == nil {
		mode = st.Mode().Perm()
	}
	data, err := os.ReadFile(p)
	s, werr := w.BeginFile(p, mode)
	if werr != nil {
		return
	}
	if err != nil {
		s.End(-1, err.Error())
		return
	}
	s.Write(data)
	s.End(0, "")
}

// sendFile sends a file as a section when it exists.
func sendFile(w *wire.Writer, name, path string) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	s, werr := w.Begin(name)
	if werr != nil {
		return
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	} else {
		s.Write(data)
	}
	s.End(0, msg)
}

// sendKmsg sends the kernel log buffer.
func sendKmsg(w *wire.Writer) {
	s, err := w.BeginCompressed(wire.SectionKmsg)
	if err != nil {
		return
	}
	size, err := unix.Klogctl(unix.SYSLOG_ACTION_SIZE_BUFFER, nil)
	if err != nil || size <= 0 {
		size = 1 << 20
	}
	buf := make([]byte, size)
	n, err := unix.Klogctl(unix.SYSLOG_ACTION_READ_ALL, buf)
	if err != nil {
		s.End(-1, fmt.Sprintf("read kernel log: %v", err))
		return
	}
	s.Write(buf[:n])
	s.End(0, "")
}

func loUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

func release() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// consolef writes a line to the console (ttyS0, kept as console.log).
func consolef(format string, args ...any) {
	fmt.Fprintf(os.Stderr, strings.TrimSuffix(format, "\n")+"\n", args...)
}

func powerOff() {
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	// Without ACPI power-off, a restart also ends QEMU (-no-reboot).
	unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	for {
		time.Sleep(time.Hour)
	}
}
