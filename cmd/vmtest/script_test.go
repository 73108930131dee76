package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/corematrix/corematrix/kernels/kerneltest"
)

// The commands README.md and the --help texts show run here as written, as
// scripts (testdata/script/*.txt on the host, testdata/vmscript/*.txt booting
// kernel 6.1), so that the documentation and the tool cannot drift apart.
// Each script runs the vmtest binary a user builds (static, as `make build`
// and `go install` give it), found on PATH as `vmtest`, in a scratch
// directory; $REPO is the repository root, for the objects and packages the
// README names.

var script struct {
	once sync.Once
	dir  string // holds the vmtest binary
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if script.dir != "" {
		os.RemoveAll(script.dir)
	}
	os.Exit(code)
}

// buildVMTest builds a static vmtest (it is also the guest's init) once per
// test binary.
func buildVMTest(t *testing.T) string {
	t.Helper()
	script.once.Do(func() {
		if script.dir, script.err = os.MkdirTemp("", "vmtest-script-"); script.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(script.dir, "vmtest"), ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			script.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if script.err != nil {
		t.Fatal(script.err)
	}
	return script.dir
}

func scriptParams(t *testing.T, dir string) testscript.Params {
	bin := buildVMTest(t)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	return testscript.Params{
		Dir: dir,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", bin+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("REPO", repo)
			// The kernel cache is the user's (kernels are big and shared,
			// under a lock); Go's caches too.
			for _, k := range []string{"CM_CACHE_DIR", "XDG_CACHE_HOME", "GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "CM_DEBIAN_MIRROR"} {
				if v := os.Getenv(k); v != "" {
					env.Setenv(k, v)
				}
			}
			env.Setenv("HOME", home)
			if os.Getenv("XDG_CACHE_HOME") == "" && home != "" {
				env.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "kvm" {
				return kvmCapable() == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"noqemu":     noQEMU,
			"kernelpath": kernelPath,
		},
	}
}

// TestScripts runs the host scripts: usage, errors, offline analysis,
// reports. Kernels come from the cache (resolved as the README's commands
// resolve them).
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams(t, "testdata/script"))
}

// TestVMScripts runs the scripts that boot kernel 6.1 in QEMU.
func TestVMScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU; not in -short mode")
	}
	testscript.Run(t, scriptParams(t, "testdata/vmscript"))
}

// kernelPath resolves a kernel name to its image in the cache and sets an
// environment variable to the image's path: `kernelpath 6.1 KPATH`. A path
// is a second name for the same kernel, for runs on "two" kernels.
func kernelPath(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: kernelpath NAME VAR")
	}
	k, err := kerneltest.Resolve(args[0])
	ts.Check(err)
	ts.Setenv(args[1], k.Path)
}

// noQEMU fails when a QEMU process still runs whose command line names
// the script's scratch directory (its initramfs lives under $WORK/tmp when
// the script sets TMPDIR there): `noqemu`.
func noQEMU(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: noqemu")
	}
	work := ts.Getenv("WORK")
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmdline, "qemu-system") && strings.Contains(cmdline, work) {
			ts.Fatalf("QEMU still runs: %s: %s", filepath.Dir(p), cmdline)
		}
	}
}
