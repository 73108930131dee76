package pid1

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGuestInitComesBeforeTheHostSide builds the vmtest binary, runs it with
// probeEnv set (init exits 0 where, as PID 1, it would become the guest
// init) and GODEBUG=inittrace=1, and checks that none of the host side's
// packages initialized before: an import that drags them in front of the
// guest init costs every guest boot.
func TestGuestInitComesBeforeTheHostSide(t *testing.T) {
	bin := buildVMTest(t)

	var stderr bytes.Buffer
	run := exec.Command(bin, "version")
	run.Env = append(os.Environ(), probeEnv+"=1", "GODEBUG=inittrace=1")
	run.Stdout, run.Stderr = &stderr, &stderr
	require.NoError(t, run.Run(), "vmtest with %s=1: %s", probeEnv, stderr.String())

	var inited []string
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 1 && f[0] == "init" {
			inited = append(inited, f[1])
		} else if len(f) > 0 && !strings.HasPrefix(sc.Text(), "init ") {
			t.Fatalf("vmtest printed %q: it got past the probe into main", sc.Text())
		}
	}
	require.NotEmpty(t, inited, "no inittrace lines")
	for _, p := range inited {
		for _, host := range []string{
			"net/http",
			"github.com/google/go-containerregistry/pkg/v1/remote",
			"github.com/corematrix/corematrix/vmtest",
			"github.com/corematrix/corematrix/report",
			"github.com/corematrix/corematrix/kernels",
			"github.com/corematrix/corematrix/corereport",
			"github.com/cilium/ebpf/btf",
		} {
			require.NotEqual(t, host, p, "host package %s initialized before the guest init (of %d packages: %v)", p, len(inited), inited)
		}
	}
	t.Logf("%d packages with init work ran before the guest init", len(inited))
}

// TestPID1InAContainerIsTheCLI runs vmtest as the first process of new PID,
// user and mount namespaces, as a container would start it: it must be the
// command-line tool there, not a guest init (that would mount over /dev and
// power off).
func TestPID1InAContainerIsTheCLI(t *testing.T) {
	bin := buildVMTest(t)
	unshare, err := exec.LookPath("unshare")
	require.NoError(t, err, "unshare (util-linux) runs vmtest as PID 1")
	probe := exec.Command(unshare, "--user", "--map-root-user", "--mount", "--pid", "--fork", "sh", "-c", "echo $$")
	if out, err := probe.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Skipf("cannot start a process as PID 1 in new namespaces here: %v: %s", err, out)
	}
	out, err := exec.Command(unshare, "--user", "--map-root-user", "--mount", "--pid", "--fork", bin, "version").CombinedOutput()
	require.NoError(t, err, "vmtest version as PID 1: %s", out)
	require.Contains(t, string(out), "vmtest", "vmtest version as PID 1")
	require.NotContains(t, string(out), "guest init", "vmtest version as PID 1")
}

// built is the vmtest binary both tests run, built once.
var built struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildVMTest builds cmd/vmtest into a temporary directory, once per test
// binary.
func buildVMTest(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds cmd/vmtest")
	}
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "pid1-test-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "vmtest")
		build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", built.path, "github.com/corematrix/corematrix/cmd/vmtest")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		built.out, built.err = build.CombinedOutput()
	})
	require.NoError(t, built.err, "go build: %s", built.out)
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.path != "" {
		os.RemoveAll(filepath.Dir(built.path))
	}
	os.Exit(code)
}
