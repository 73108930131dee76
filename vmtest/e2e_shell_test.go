package vmtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/corematrix/corematrix/report"
)

// openPTY returns the master and slave ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	require.NoError(t, unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	require.NoError(t, unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 100}))
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// terminal reads what a program writes to a pseudo-terminal.
type terminal struct {
	t      *testing.T
	master *os.File
	buf    bytes.Buffer
	seen   int // offset after the last expected string
}

// expect reads until want appears after what earlier calls matched.
func (tm *terminal) expect(want string, timeout time.Duration) {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	chunk := make([]byte, 4096)
	for {
		if i := strings.Index(tm.buf.String()[tm.seen:], want); i >= 0 {
			tm.seen += i + len(want)
			return
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("no %q within %s; the terminal shows:\n%s", want, timeout, tm.buf.String())
		}
		tm.master.SetReadDeadline(time.Now().Add(time.Second))
		n, err := tm.master.Read(chunk)
		tm.buf.Write(chunk[:n])
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			tm.t.Fatalf("read terminal: %v; it shows:\n%s", err, tm.buf.String())
		}
	}
}

func (tm *terminal) send(s string) {
	tm.t.Helper()
	_, err := tm.master.WriteString(s)
	require.NoError(tm.t, err)
}

// startOnPTY runs the vmtest CLI with a pseudo-terminal as its stdin and
// stdout (stderr is kept apart) in its own session.
// Its temporary files (and so its QEMU's paths) are under tmp.
func startOnPTY(t *testing.T, tmp string, args ...string) (*exec.Cmd, *terminal, *bytes.Buffer) {
	t.Helper()
	master, slave := openPTY(t)
	cmd := exec.Command(e2e.vmtest, args...)
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, &stderr
	cmd.Env = append(os.Environ(), "TERM=dumb", "CI=", "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, &terminal{t: t, master: master}, &stderr
}

// waitExit waits for cmd to end after the guest was told to power off, and
// kills it (failing the test) when it is still running a minute later.
func waitExit(t *testing.T, cmd *exec.Cmd, term *terminal) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		require.Fail(t, fmt.Sprintf("%s still running a minute after the shell ended; terminal:\n%s", cmd.Args[1], term.buf.String()))
		return nil
	}
}

// requireNoQEMU fails when a QEMU process whose command line mentions dir
// (its console log, shell socket) is still running.
func requireNoQEMU(t *testing.T, dir string) {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		assert.False(t, strings.Contains(cmdline, "qemu-system") && strings.Contains(cmdline, dir), "QEMU left running: %s: %s", p, cmdline)
	}
}

// TestE2EShell types into `vmtest shell` through a pseudo-terminal: the
// guest has the run's environment (--env, busybox, mounts), Ctrl-C reaches
// the guest's foreground command, and exit powers the guest off.
func TestE2EShell(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	tmp := t.TempDir()
	reports := filepath.Join(tmp, "report")
	cmd, term, stderr := startOnPTY(t, tmp, "shell", "--accel", "tcg", "--kernel", e2e.kernel.Path, "--env", "E2E_SHELL=from --env", "--report", reports)
	term.expect("corematrix: shell in kernel "+e2e.kernel.Path, 3*time.Minute)
	term.expect("# ", 30*time.Second)
	term.send("echo $((6*7)) $E2E_SHELL $PWD; grep -c bpf /proc/mounts; stty size\n")
	term.expect("42 from --env /tmp\r\n1\r\n40 100\r\n", 30*time.Second) // the terminal's size too
	term.send("sleep 300\n")
	time.Sleep(2 * time.Second)
	term.send("\x03") // Ctrl-C: the guest's sleep, not vmtest
	term.send("echo status $?\n")
	term.expect("status 130", 30*time.Second)
	term.send("exit\n")
	require.NoError(t, waitExit(t, cmd, term), "stderr: %s\nterminal:\n%s", stderr.String(), term.buf.String())
	requireNoQEMU(t, tmp)
	// --report keeps the kernel's console, which the terminal never showed.
	console, err := os.ReadFile(filepath.Join(report.KernelDir(reports, e2e.kernel.Path), ConsoleFile))
	require.NoError(t, err, "stderr: %s", stderr.String())
	assert.Contains(t, string(console), "Linux version")
	assert.NotContains(t, term.buf.String(), "Linux version", "the console is not on the screen")
}

// TestE2EShellOnFail: `vmtest exec --shell-on-fail` opens the shell after
// the payload failed, with its output at hand; the payload's exit code still
// passes through.
func TestE2EShellOnFail(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	tmp := t.TempDir()
	cmd, term, stderr := startOnPTY(t, tmp, "exec", "--shell-on-fail", "--accel", "tcg", "--kernel", e2e.kernel.Path, "--", e2e.fault, "fail")
	term.expect("the payload exited 3; its output is in /run/corematrix/output.log", 3*time.Minute)
	term.expect("# ", 30*time.Second)
	term.send("cat /run/corematrix/output.log\n")
	term.expect("fault payload: fail", 30*time.Second)
	term.expect("# ", 30*time.Second)
	time.Sleep(time.Second) // the prompt's own terminal queries settle
	term.send("\x04")       // Ctrl-D on an empty line
	err := waitExit(t, cmd, term)
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "err %v, stderr %s", err, stderr.String())
	require.Equal(t, 3, ee.ExitCode(), "stderr: %s", stderr.String())
	requireNoQEMU(t, tmp)
}

// TestE2EInterrupt sends SIGINT to `vmtest run` while one kernel's payload
// still runs and the other's has finished: exit 130, QEMU stopped, the
// finished kernel's verdict intact in the reports.
func TestE2EInterrupt(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	dir := t.TempDir()
	fast, slow := filepath.Join(dir, "fast-bzImage"), filepath.Join(dir, "slow-bzImage")
	require.NoError(t, os.Symlink(e2e.kernel.Path, fast))
	require.NoError(t, os.Symlink(e2e.kernel.Path, slow))
	reports := filepath.Join(dir, "report")
	cmd := exec.Command(e2e.vmtest, "run", "--accel", "tcg", "--jobs", "2", "--report", reports,
		"--kernels", fast+","+slow, "--", "/bin/busybox", "sh", "-c",
		`case "$CM_KERNEL" in *slow*) echo sleeping; sleep 600;; esac; echo done`)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	fastResult := filepath.Join(report.KernelDir(reports, fast), "results.json")
	slowStream := filepath.Join(report.KernelDir(reports, slow), ResultsFile)
	deadline := time.Now().Add(4 * time.Minute)
	for {
		_, errFast := os.Stat(fastResult)
		slowRaw, _ := os.ReadFile(slowStream)
		if errFast == nil && bytes.Contains(slowRaw, []byte("sleeping\n")) {
			break
		}
		require.True(t, time.Now().Before(deadline), "the fast kernel did not finish or the slow one's payload did not start:\n%s", out.String())
		time.Sleep(200 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "err %v\n%s", err, out.String())
	require.Equal(t, 130, ee.ExitCode(), "output:\n%s", out.String())
	requireNoQEMU(t, reports)

	var sum report.Summary
	raw, err := os.ReadFile(filepath.Join(reports, "summary.json"))
	require.NoError(t, err, "output:\n%s", out.String())
	require.NoError(t, json.Unmarshal(raw, &sum))
	require.Len(t, sum.Kernels, 2)
	require.Equal(t, report.Pass, sum.Kernels[0].Outcome, "reason %s", sum.Kernels[0].Reason)
	require.Equal(t, report.Interrupted, sum.Kernels[1].Outcome)
	require.Contains(t, sum.Kernels[1].Reason, "interrupted while")
	require.NotContains(t, sum.Kernels[1].Reason, "boot", "the payload was running, not the boot")
	output, err := os.ReadFile(filepath.Join(report.KernelDir(reports, fast), OutputFile))
	require.NoError(t, err)
	require.Equal(t, "done\n", string(output))
}
