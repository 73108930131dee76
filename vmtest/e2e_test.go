package vmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels/kerneltest"
	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest/initramfs"
)

// The end-to-end tests boot a real Debian 6.1 cloud kernel under QEMU. The
// kernel comes from the kernels package (the Debian archive this machine's
// apt uses, cached), or from $CM_TEST_KERNEL when that names a bzImage.

// e2eKernelName is the kernel line the end-to-end tests boot.
const e2eKernelName = "6.1"

var e2e struct {
	once   sync.Once
	err    error
	dir    string
	vmtest string // static vmtest binary: the guest init and the CLI
	fault  string // testdata/e2e/fault
	tests  string // testdata/e2e/gotests compiled with go test -c
	kernel kernel.Kernel
}

func TestMain(m *testing.M) {
	code := m.Run()
	if e2e.dir != "" {
		os.RemoveAll(e2e.dir)
	}
	os.Exit(code)
}

// setupE2E builds the binaries and resolves the kernel once per test binary.
func setupE2E(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU; not in -short mode")
	}
	e2e.once.Do(func() { e2e.err = buildE2E() })
	require.NoError(t, e2e.err)
}

func buildE2E() error {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		return fmt.Errorf("qemu-system-x86_64 is needed (make deps): %w", err)
	}
	dir, err := os.MkdirTemp("", "vmtest-e2e-")
	if err != nil {
		return err
	}
	e2e.dir = dir
	e2e.vmtest = filepath.Join(dir, "vmtest")
	e2e.fault = filepath.Join(dir, "fault")
	e2e.tests = filepath.Join(dir, "gotests.test")
	builds := [][]string{
		{"build", "-o", e2e.vmtest, "../cmd/vmtest"},
		{"build", "-o", e2e.fault, "./testdata/e2e/fault"},
		{"test", "-c", "-o", e2e.tests, "./testdata/e2e/gotests"},
	}
	for _, args := range builds {
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	e2e.kernel, err = resolveE2EKernel()
	return err
}

func resolveE2EKernel() (kernel.Kernel, error) {
	if p := os.Getenv("CM_TEST_KERNEL"); p != "" {
		return kernel.Kernel{Name: e2eKernelName, Arch: kernel.HostArch(), Source: "local", Path: p}, nil
	}
	img, err := kerneltest.Resolve(e2eKernelName)
	if err != nil {
		return kernel.Kernel{}, fmt.Errorf("resolve kernel %s: %w", e2eKernelName, err)
	}
	return img, nil
}

// sameKernel returns the e2e kernel, resolved, once per name, each keeping
// its name (the fault payload reads its mode from $CM_KERNEL).
func sameKernel(names ...string) []kernel.Kernel {
	var ks []kernel.Kernel
	for _, name := range names {
		k := e2e.kernel
		k.Name = name
		ks = append(ks, k)
	}
	return ks
}

// TestE2EFaults runs the fault cases (and a wrecked result stream) as one
// matrix sharing one initramfs: each "kernel" is the 6.1 image, and the
// payload picks its fault from the name. The matrix has the default
// deadline, so that a loaded host (a TCG boot can take minutes with other
// tests running) never turns a verdict into a timeout; the hanging payload
// runs beside it with a deadline of its own (TestE2EHang).
func TestE2EFaults(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	type want struct {
		outcome report.Outcome
		reason  string
		exit    int
		trace   string
	}
	cases := []struct {
		mode string
		want want
	}{
		{"pass", want{report.Pass, "payload exited 0", 0, ""}},
		{"fail", want{report.Fail, "payload exited 3", 3, ""}},
		// Any CPU may print the warning (seen on CPU 1 on a loaded host).
		{"warn", want{report.Fail, "kernel warning: WARNING: CPU: ", 0, "resched_latency_warn"}},
		{"segv", want{report.Fail, "payload killed by SIGSEGV", 139, ""}},
		{"oom", want{report.Fail, "payload killed by the OOM killer (guest memory 512 MiB; raise --memory)", 137, ""}},
		{"panic", want{report.Panic, "Kernel panic - not syncing: sysrq triggered crash", -1, "sysrq_handle_crash"}},
		{"killinit", want{report.Fail, "the guest init died before its verdict (Kernel panic - not syncing: Attempted to kill init!", -1, "do_exit"}},
		// How much of the payload's line left the guest before the power-off
		// is a race (0 or 28 framed bytes were seen): only the verdict counts.
		{"poweroff", want{report.Fail, "result stream cannot be trusted: payload: no trailer after ", -1, ""}},
		{"wreck", want{report.Fail, "result stream cannot be trusted: payload trailer mismatch: trailer says 25 bytes, received 64", -1, ""}},
	}
	var names []string
	for _, c := range cases {
		names = append(names, e2eKernelName+"+"+c.mode)
	}
	root := t.TempDir()
	var progress stateLog
	r, err := NewRunner(Config{
		Kernels: sameKernel(names...),
		Payload: e2e.fault, Env: []string{"E2E_EXTRA=from --env"},
		Init: e2e.vmtest, ReportDir: root, Jobs: 4, Accel: AccelTCG,
		MemoryMiB: 512, // the oom case fills it: half the default, half the time
		Progress:  &progress,
	})
	require.NoError(t, err)
	defer r.Close()

	var done []string
	sum, err := r.Matrix(context.Background(), func(res *Result) { done = append(done, res.Kernel.Name) })
	require.Len(t, sum.Kernels, len(cases))
	require.ElementsMatch(t, names, done)

	var merr *multierror.Error
	require.True(t, errors.As(err, &merr), "error %v", err)
	require.Len(t, merr.Errors, len(cases)-1, "one error per kernel that did not pass: %v", err)

	for i, c := range cases {
		k := sum.Kernels[i]
		t.Run(c.mode, func(t *testing.T) {
			require.Equal(t, names[i], k.Kernel.Name)
			require.Equal(t, c.want.outcome, k.Outcome, "reason: %s", k.Reason)
			require.Contains(t, k.Reason, c.want.reason)
			require.Equal(t, c.want.exit, k.ExitCode)
			require.Equal(t, AccelTCG, k.Accel)
			if c.want.trace != "" {
				require.Contains(t, k.Trace, c.want.trace)
			}
			dir := report.KernelDir(root, names[i])
			console, err := os.ReadFile(filepath.Join(dir, ConsoleFile))
			require.NoError(t, err)
			require.Contains(t, string(console), "Linux version 6.1", "console.log is the kernel console")
			require.Contains(t, string(console), "corematrix: guest init started")
			require.True(t, strings.HasPrefix(k.Kernel.Release, "6.1."), "release %q", k.Kernel.Release)
			require.Greater(t, k.Timings.Boot, 0.0)
		})
	}
	pass := sum.Kernels[0]
	require.Empty(t, pass.Warnings, "sysrq backtraces are no kernel warnings")
	require.NotNil(t, pass.Facts, "facts written by the payload")
	require.Equal(t, []report.ProgramStat{{Name: "e2e", Loaded: true, VerifiedInsns: 7}}, pass.Facts.Programs)
	require.Contains(t, progress.String(), "6.1+pass")
	require.Contains(t, progress.String(), "running")
}

// TestE2EHang: a payload that never ends is a timeout when the deadline
// passes, and QEMU is killed. How far the guest got by then depends on how
// loaded the host is; the reason must say what the evidence shows.
func TestE2EHang(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	const deadline = time.Minute
	r, err := NewRunner(Config{
		Kernels: sameKernel(e2eKernelName + "+hang"),
		Payload: e2e.fault, Init: e2e.vmtest, Timeout: deadline, Accel: AccelTCG, MemoryMiB: 512,
	})
	require.NoError(t, err)
	defer r.Close()
	dir := t.TempDir()
	start := time.Now()
	k := r.Kernel(context.Background(), sameKernel(e2eKernelName + "+hang")[0], dir, nil)
	require.GreaterOrEqual(t, time.Since(start), deadline, "a verdict before the deadline: %s: %s", k.Outcome, k.Reason)
	require.Equal(t, report.Timeout, k.Outcome, "reason: %s", k.Reason)
	require.Equal(t, -1, k.ExitCode)
	require.True(t, strings.HasPrefix(k.Reason, "no verdict within 1m0s"), "reason %q", k.Reason)
	require.True(t, strings.HasSuffix(k.Reason, "; QEMU killed"), "reason %q", k.Reason)
	console, err := os.ReadFile(filepath.Join(dir, ConsoleFile))
	require.NoError(t, err)
	require.Contains(t, string(console), "Linux version 6.1", "console.log is the kernel console")
	raw, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	require.NoError(t, err)
	switch {
	case bytes.Contains(raw, payloadBegin):
		require.Contains(t, k.Reason, "(payload still running after ")
	case bytes.Contains(raw, helloLine):
		require.Equal(t, "no verdict within 1m0s; QEMU killed", k.Reason)
	default:
		require.Contains(t, k.Reason, "(the guest init never spoke)")
	}
}

// TestE2EGoTest runs a Go test binary: per-test verdicts come back, and a
// run that selects no test fails.
func TestE2EGoTest(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	all := map[string]string{
		"TestInGuest": "pass", "TestTracefs": "pass", "TestSkipped": "skip",
		"TestSubtests": "pass", "TestSubtests/a": "pass", "TestSubtests/b": "pass",
		"TestModuleAutoload": "pass",
	}
	// With files under /lib/modules the guest keeps module autoloading.
	modules := []initramfs.File{{Name: "/lib/modules/README", Data: []byte("not a module"), Mode: 0o644}}
	tests := []struct {
		args    []string
		env     []string
		files   []initramfs.File
		outcome report.Outcome
		reason  string
		tests   map[string]string
	}{
		{[]string{"-test.v"}, nil, nil, report.Pass, "5 tests passed, 1 skipped", all},
		{[]string{"-test.v", "-test.run=TestModuleAutoload"}, []string{"CM_E2E_MODULES=1"}, modules, report.Pass, "1 test passed, 0 skipped", map[string]string{"TestModuleAutoload": "pass"}},
		// go test reports "ok [no tests to run]"; so does vmtest.
		{[]string{"-test.run=^$"}, nil, nil, report.Pass, "no tests to run (the test binary said so and passed, as go test reports it)", map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			r, err := NewRunner(Config{
				Kernels: sameKernel(e2eKernelName),
				Payload: e2e.tests, Args: tt.args, Init: e2e.vmtest,
				Env: tt.env, Files: tt.files,
				Timeout: 3 * time.Minute, Accel: AccelTCG,
			})
			require.NoError(t, err)
			defer r.Close()
			require.True(t, r.GoTest())
			res := r.Kernel(context.Background(), sameKernel(e2eKernelName)[0], t.TempDir(), nil)
			require.Equal(t, tt.outcome, res.Outcome, "reason: %s\noutput:\n%s", res.Reason, res.Output)
			require.Equal(t, tt.reason, res.Reason)
			got := map[string]string{}
			for _, tr := range res.Tests {
				got[tr.Name] = tr.Status
			}
			require.Equal(t, tt.tests, got)
		})
	}
}

// TestE2EExec checks the exec command: the payload's output and exit code
// pass through, also under `go test -exec`.
func TestE2EExec(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	t.Run("exit code", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(e2e.vmtest, "exec", "--accel", "tcg", "--kernel", e2e.kernel.Path, "--", e2e.fault, "fail")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "err %v, stderr %s", err, stderr.String())
		require.Equal(t, 3, ee.ExitCode(), "stderr: %s", stderr.String())
		require.Equal(t, "fault payload: fail\n", stdout.String())
	})
	t.Run("go test -exec", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command("go", "test", "-count=1", "-v", "-run", "TestInGuest|TestSkipped",
			"-exec", e2e.vmtest+" exec --accel tcg --kernel "+e2e.kernel.Path, "./testdata/e2e/gotests")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Contains(t, string(out), "--- PASS: TestInGuest")
		require.Contains(t, string(out), "--- SKIP: TestSkipped")
		require.Contains(t, string(out), "kernel "+e2e.kernel.Path)
	})
}

// TestE2EExecWorkdir runs a test package through `go test -exec 'vmtest
// exec --share-host=false'` (the packed mode) from a directory under /tmp (which the guest mounts a tmpfs on):
// the package directory travels without its .git, the coverprofile and an
// -test.outputdir file come back, host writes stay on the host, output
// streams while the guest runs, and -timeout ends a hanging test the way go
// test expects, leaving no QEMU behind.
func TestE2EExecWorkdir(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	pkg := copyPackage(t, "testdata/e2e/workdir")
	require.NoError(t, os.MkdirAll(filepath.Join(pkg, ".git"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(pkg, ".git", "HEAD"), []byte("ref\n"), 0o644))
	filedir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(filedir, "in.txt"), []byte("read from testdata\n"), 0o644))
	goTest := func(keep string, args ...string) *exec.Cmd {
		vm := e2e.vmtest + " exec --share-host=false --accel tcg --kernel " + e2eKernelName + " --keep " + keep +
			" --file " + filedir + ":/tmp/filedir --env E2E_FILEDIR=/tmp/filedir"
		cmd := exec.Command("go", append([]string{"test", "-count=1", "-exec", vm}, args...)...)
		cmd.Dir = pkg
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "CI=vmtest-e2e", "HOSTONLY=1", "GOFLAGS=-mod=mod")
		return cmd
	}

	t.Run("files and live output", func(t *testing.T) {
		t.Parallel()
		outdir := t.TempDir()
		cmd := goTest(t.TempDir(), "-v", "-cover", "-coverprofile=c.out", "-artifacts", "-outputdir", outdir, "-run", "TestFiles|TestSlow", ".")
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		var out bytes.Buffer
		var first, last time.Time
		buf := make([]byte, 4096)
		for {
			n, err := stdout.Read(buf)
			out.Write(buf[:n])
			if first.IsZero() && bytes.Contains(out.Bytes(), []byte("slow line 0001\n")) {
				first = time.Now()
			}
			if last.IsZero() && bytes.Contains(out.Bytes(), []byte("slow line 1000\n")) {
				last = time.Now()
			}
			if err != nil {
				break
			}
		}
		err = cmd.Wait()
		exited := time.Now()
		require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
		require.Contains(t, out.String(), "--- PASS: TestFiles")
		require.Contains(t, out.String(), "--- PASS: TestSlow")
		require.Equal(t, 1000, strings.Count(out.String(), "slow line "))
		// The guest sleeps 4s after the last line, then powers off: lines
		// that arrive only when QEMU exits would come a moment before go
		// test ends, not seconds.
		require.False(t, first.IsZero() || last.IsZero())
		require.Greater(t, exited.Sub(last), 3*time.Second, "the last line arrived %s before go test ended", exited.Sub(last))
		require.Greater(t, last.Sub(first), time.Second, "1000 lines over 3s arrived at once")

		prof, err := os.ReadFile(filepath.Join(outdir, "c.out"))
		require.NoError(t, err)
		require.Contains(t, string(prof), "workdir.go:")
		cover := exec.Command("go", "tool", "cover", "-func", filepath.Join(outdir, "c.out"))
		cover.Dir = pkg
		fn, err := cover.CombinedOutput()
		require.NoError(t, err, "%s", fn)
		require.Regexp(t, `Double\s+100.0%`, string(fn))
		var arts []string // _artifacts/[PKG/TEST/]RANDOM/artifact.txt
		filepath.WalkDir(filepath.Join(outdir, "_artifacts"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Name() == "artifact.txt" {
				arts = append(arts, p)
			}
			return nil
		})
		require.Len(t, arts, 1, "the artifact came back")
		art, err := os.ReadFile(arts[0])
		require.NoError(t, err)
		require.Equal(t, "written in the guest\n", string(art))
		_, err = os.Stat(filepath.Join(outdir, "stray.txt"))
		require.ErrorIs(t, err, os.ErrNotExist, "a file go test did not name came back")
		require.Contains(t, stderr.String()+out.String(), "refused returned file", "the refusal is reported")
		in, err := os.ReadFile(filepath.Join(pkg, "testdata", "in.txt"))
		require.NoError(t, err)
		require.Equal(t, "read from testdata\n", string(in), "a write in the guest reached the host")
	})

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		keep := t.TempDir()
		cmd := goTest(keep, "-timeout", "8s", "-run", "TestHang", ".")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%s", out)
		require.Equal(t, 1, ee.ExitCode(), "%s", out)
		require.Contains(t, string(out), "panic: test timed out after 8s")
		require.Contains(t, string(out), "FAIL")
		require.Empty(t, qemuUsing(t, keep), "QEMU left running")
	})
}

// copyPackage copies the package directory src to a fresh directory with a
// go.mod of its own, so it builds outside this module.
func copyPackage(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	require.NoError(t, os.CopyFS(dst, os.DirFS(src)))
	require.NoError(t, os.WriteFile(filepath.Join(dst, "go.mod"), []byte("module workdir\n\ngo 1.22\n"), 0o644))
	return dst
}

// qemuUsing returns the pids of processes whose command line mentions dir.
func qemuUsing(t *testing.T, dir string) []string {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	var pids []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte("qemu")) && bytes.Contains(b, []byte(dir)) {
			pids = append(pids, filepath.Base(filepath.Dir(p)))
		}
	}
	return pids
}

// TestE2EAccelFallback makes auto mode believe KVM is worth a try on a host
// where it is not (here /dev/kvm exists but the CPU has no vmx/svm, so a KVM
// guest spins before the kernel proper): the probe boot must give up, and the
// same kernel must then pass under TCG.
func TestE2EAccelFallback(t *testing.T) {
	setupE2E(t)
	if err := exec.Command("test", "-e", "/dev/kvm").Run(); err != nil {
		t.Skip("needs /dev/kvm to be present (the fallback from a KVM that hangs)")
	}
	t.Parallel()
	var log bytes.Buffer
	r, err := NewRunner(Config{
		Kernels: sameKernel(e2eKernelName + "+pass"),
		Payload: e2e.fault, Env: []string{"E2E_EXTRA=from --env"},
		Init: e2e.vmtest, Accel: AccelAuto, Log: &lockedWriter{w: &log},
	})
	require.NoError(t, err)
	defer r.Close()
	if r.accel.capable() == nil {
		t.Skip("KVM works on this host; the fallback cannot be provoked")
	}
	r.accel.capable = func() error { return nil }
	r.accel.probeTO = 10 * time.Second
	// A pass proves the probe gave up: a KVM guest that spins ends only at
	// the deadline (a timeout). How long the TCG boot then takes depends on
	// the host's load, so no time is asserted.
	res := r.Kernel(context.Background(), sameKernel(e2eKernelName + "+pass")[0], t.TempDir(), nil)
	require.Equal(t, report.Pass, res.Outcome, "reason: %s", res.Reason)
	require.Equal(t, AccelTCG, res.Accel)
	require.Contains(t, log.String(), "did not reach its init within 10s; using TCG")
	require.Equal(t, 1, strings.Count(log.String(), "warning"), "one warning: %s", log.String())
}

// stateLog records every state change of a run, a line each.
type stateLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *stateLog) Update(i int, kernel string, s State, _ *report.KernelResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, "%d %s %s\n", i, kernel, s)
}

func (l *stateLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
