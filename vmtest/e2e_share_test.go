package vmtest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// shareModule copies testdata/e2e/share (a module: go.mod, testdata/, pkg/)
// to a fresh directory and returns it.
func shareModule(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "share")
	require.NoError(t, os.CopyFS(dst, os.DirFS("testdata/e2e/share")))
	require.NoError(t, os.WriteFile(filepath.Join(dst, "go.mod"), []byte("module share\n\ngo 1.22\n"), 0o644))
	return dst
}

// TestE2EShare runs a test package with `go test -exec 'vmtest exec'`
// sharing the host's files: the test finds ../testdata, the module's
// go.mod, the host's go and sh, no credential files, and loads a module on
// demand; its writes (to ../testdata, /usr, /etc) never reach the host, and
// its coverage profile does.
func TestE2EShare(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	mod := shareModule(t)
	keep := t.TempDir()
	cmd := exec.Command("go", "test", "-count=1", "-v", "-cover", "-coverprofile=c.out",
		"-exec", e2e.vmtest+" exec --accel tcg --kernel "+e2eKernelName+" --keep "+keep, "./pkg")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "--- PASS: TestHostFilesReadOnly")
	require.Contains(t, string(out), "--- PASS: TestModuleOnDemand")
	require.Contains(t, string(out), "--- PASS: TestDeviceNodeOnDemand")

	in, err := os.ReadFile(filepath.Join(mod, "testdata", "in.txt"))
	require.NoError(t, err)
	require.Equal(t, "read through ../testdata\n", string(in), "a write in the guest reached the host")
	prof, err := os.ReadFile(filepath.Join(mod, "c.out")) // go test writes it where it runs
	require.NoError(t, err, "the coverage profile comes back from a sharing guest")
	require.True(t, strings.HasPrefix(string(prof), "mode: "), "c.out: %q", prof)
	for _, p := range []string{filepath.Join(mod, "testdata", "guest-wrote.txt"), "/usr/cm-e2e-guest-wrote", "/etc/cm-e2e-guest-wrote"} {
		_, err := os.Lstat(p)
		require.ErrorIs(t, err, os.ErrNotExist, "%s: a write in the guest reached the host", p)
	}
}

// virtiofsdUnder returns the pids of virtiofsd processes (and their
// unshare/sh wrappers) whose command line mentions dir.
func virtiofsdUnder(t *testing.T, dir string) []string {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	var pids []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte("virtiofsd")) && bytes.Contains(b, []byte(dir)) {
			pids = append(pids, filepath.Base(filepath.Dir(p))+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return pids
}

// TestE2EShareNoDaemonLeft stops `vmtest exec` while its guest runs, with
// SIGINT (Ctrl-C), SIGQUIT (what go test sends a -exec program past its
// deadline) and SIGKILL: each time the daemons that served the guest end
// with it, and no write reached the host.
func TestE2EShareNoDaemonLeft(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			tmp := t.TempDir() // vmtest's TMPDIR: the daemons' sockets live under it
			work := t.TempDir()
			cmd := exec.Command(e2e.vmtest, "exec", "--accel", "tcg", "--kernel", e2eKernelName, "--",
				"/bin/sh", "-c", "echo x > guest-wrote.txt; echo sleeping; sleep 600")
			cmd.Dir = work
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			require.NoError(t, cmd.Start())
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			deadline := time.After(4 * time.Minute)
		wait:
			for {
				select {
				case err := <-exited:
					t.Fatalf("vmtest exited before the payload slept: %v\n%s", err, out.String())
				case <-deadline:
					cmd.Process.Kill()
					t.Fatalf("the payload did not start:\n%s", out.String())
				case <-time.After(200 * time.Millisecond):
					if strings.Contains(out.String(), "sleeping") {
						break wait
					}
				}
			}
			require.NotEmpty(t, virtiofsdUnder(t, tmp), "no virtiofsd served the guest:\n%s", out.String())
			require.NoError(t, cmd.Process.Signal(sig))
			select {
			case err := <-exited:
				var ee *exec.ExitError
				require.True(t, errors.As(err, &ee), "err %v\n%s", err, out.String())
			case <-time.After(time.Minute):
				cmd.Process.Kill()
				t.Fatalf("vmtest did not exit after %v:\n%s", sig, out.String())
			}
			// SIGKILL leaves the daemons to the kernel (Pdeathsig): give it
			// a moment.
			var left []string
			for range 50 {
				if left = virtiofsdUnder(t, tmp); len(left) == 0 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			require.Empty(t, left, "virtiofsd left running after %v", sig)
			requireNoQEMU(t, tmp)
			_, err := os.Lstat(filepath.Join(work, "guest-wrote.txt"))
			require.ErrorIs(t, err, os.ErrNotExist, "a write in the guest reached the host")
		})
	}
}
