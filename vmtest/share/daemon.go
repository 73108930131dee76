package share

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
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
			if _, err := exec.LookPath("unshare"); err != nil {
				why = append(why, p+" is QEMU's C virtiofsd, and unshare(1), which makes its directory read-only, is missing")
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
	procs []*exec.Cmd
	dir   string
}

// socket returns the vhost-user socket of export i.
func socket(dir string, i int) string { return filepath.Join(dir, "vfs"+strconv.Itoa(i)+".sock") }

// Start starts one virtiofsd per export, each in its own process group and
// killed should vmtest die (Pdeathsig), serving its directory read-only,
// and waits until each listens on its socket in dir. Stop ends them.
func Start(ctx context.Context, d *Daemon, exports []Export, dir string) (*Session, error) {
	s := &Session{dir: dir}
	for i, e := range exports {
		sock := socket(dir, i)
		var cmd *exec.Cmd
		if d.Rust {
			cmd = exec.Command(d.Path, "--socket-path="+sock, "--shared-dir="+e.Host, "--readonly",
				"--sandbox=namespace", "--cache=auto", "--log-level=error")
		} else {
			// The C daemon has no read-only mode: run it in a private mount
			// namespace in which its directory is a read-only bind mount.
			// The guest's writes then fail with EROFS whatever it sends.
			script := `mount --bind -o ro "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && exec "$2" "--socket-path=$3" -o "source=$1" -o cache=auto -o sandbox=namespace -o log_level=err -o no_posix_lock -o no_flock`
			cmd = exec.Command("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", e.Host, d.Path, sock)
		}
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			s.Stop()
			return nil, fmt.Errorf("start virtiofsd for %s: %w", e.Host, err)
		}
		s.procs = append(s.procs, cmd)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if err := waitSocket(ctx, sock, exited); err != nil {
			s.Stop()
			msg := strings.TrimSpace(stderr.String())
			return nil, fmt.Errorf("virtiofsd for %s: %w: %s", e.Host, err, lastLine(msg))
		}
		// The goroutine above reaps the process; Stop signals its group.
	}
	return s, nil
}

// waitSocket waits (at most 10 s) for a daemon's socket to appear.
func waitSocket(ctx context.Context, sock string, exited <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := os.Stat(sock); err == nil && st.Mode()&os.ModeSocket != 0 {
			return nil
		}
		select {
		case err := <-exited:
			if err == nil {
				err = errors.New("exited")
			}
			return fmt.Errorf("exited before listening: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("did not listen within 10s")
		}
	}
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
	for _, c := range s.procs {
		syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(time.Second)
	for _, c := range s.procs {
		for time.Now().Before(deadline) && syscall.Kill(-c.Process.Pid, 0) == nil {
			time.Sleep(5 * time.Millisecond)
		}
		syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	}
	s.procs = nil
}

// QEMUArgs returns the QEMU arguments that give the guest the exports:
// vhost-user-fs devices on the session's sockets (with the guest's memory
// shared with the daemons) for virtiofs, virtio-9p devices serving each
// directory with readonly=on for 9p.
func QEMUArgs(mode Mode, exports []Export, sockDir string, memoryMiB int) []string {
	var args []string
	switch mode {
	case VirtioFS:
		args = append(args,
			"-object", "memory-backend-memfd,id=cm-mem,size="+strconv.Itoa(memoryMiB)+"M,share=on",
			"-numa", "node,memdev=cm-mem")
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
