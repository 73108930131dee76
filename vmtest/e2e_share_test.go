package vmtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"
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

// TestE2EShareGoTestTimeout runs a hanging test under `go test -timeout
// -exec 'vmtest exec'`, two ways: "deadline", where the test binary's own
// alarm fires in the guest (or, when a loaded host made the boot slow,
// vmtest's deadline of -timeout plus its boot margin), and "killed", where
// the test stops itself so that only go test's kill ends the run (SIGQUIT
// to vmtest exec a minute past -timeout; --timeout keeps vmtest's own
// deadline later). Each time go test reports the package failed and says
// why, and no virtiofsd or QEMU is left behind.
func TestE2EShareGoTestTimeout(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	for _, c := range []struct {
		name, run, timeout, exec string
		want                     []string // one of
	}{
		{"deadline", "TestSleeps", "20s", "", []string{"panic: test timed out after 20s", "no verdict within 1m5s"}},
		{"killed", "TestStopped", "60s", " --timeout 10m", []string{"vmtest exec: stopped by SIGQUIT"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			mod := shareModule(t)
			tmp := t.TempDir() // vmtest's TMPDIR: the daemons' sockets and QEMU's files
			cmd := exec.Command("go", "test", "-count=1", "-timeout", c.timeout, "-run", "^"+c.run+"$",
				"-exec", e2e.vmtest+" exec --accel tcg --kernel "+e2eKernelName+c.exec, "./hang")
			cmd.Dir = mod
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "TMPDIR="+tmp)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			require.NoError(t, cmd.Start())
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			var err error
			select {
			case err = <-exited:
			case <-time.After(10 * time.Minute):
				cmd.Process.Kill()
				t.Fatalf("go test did not end:\n%s", out.String())
			}
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "go test passed a hanging test: %v\n%s", err, out.String())
			require.True(t, slices.ContainsFunc(c.want, func(w string) bool { return strings.Contains(out.String(), w) }),
				"go test's output names none of %q:\n%s", c.want, out.String())
			require.Contains(t, out.String(), "FAIL\tshare/hang")
			if c.name == "killed" {
				require.Contains(t, out.String(), "*** Test killed with quit: ran too long (2m0s).")
			}
			var left []string
			for range 50 {
				if left = virtiofsdUnder(t, tmp); len(left) == 0 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			require.Empty(t, left, "virtiofsd left running after go test's timeout")
			requireNoQEMU(t, tmp)
		})
	}
}

// genericFlavour returns the deb: name of the generic flavour of the e2e
// kernel's package (linux-image-6.1.0-50-amd64 for the cloud kernel's
// linux-image-6.1.0-50-cloud-amd64): the same source and version, with 9p as
// modules.
func genericFlavour(t *testing.T) string {
	t.Helper()
	src, ok := strings.CutPrefix(e2e.kernel.Source, "debian:")
	if !ok {
		t.Skipf("the e2e kernel is not a Debian package (%s): no generic flavour to derive", e2e.kernel.Source)
	}
	pkg, _, _ := strings.Cut(src, "=")
	generic := strings.Replace(pkg, "-cloud-amd64", "-amd64", 1)
	require.NotEqual(t, pkg, generic, "not a cloud package: %s", pkg)
	return "deb:" + generic
}

// TestE2EShareNinePModules shares over 9p for real: Debian's generic
// flavour has 9p as modules (the cloud flavour has none), and with no
// usable virtiofsd (CM_VIRTIOFSD names none) the guest loads 9pnet,
// 9pnet_virtio, 9p and overlay from the kernel's own package and mounts the
// host's directories. The working directory is in no repository or module,
// so it alone is shared, and the report says both; a write in the guest
// does not reach the host. The first run downloads the generic package
// (about 70 MiB).
func TestE2EShareNinePModules(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	kname := genericFlavour(t)
	parent := t.TempDir()
	work := filepath.Join(parent, "work")
	require.NoError(t, os.MkdirAll(work, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(work, "in.txt"), []byte("read over 9p\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(parent, "beside.txt"), []byte("not shared\n"), 0o644))
	reports := t.TempDir()
	cmd := exec.Command(e2e.vmtest, "exec", "--accel", "tcg", "--kernel", kname, "--report", reports, "--",
		"/bin/sh", "-c", "cat in.txt; test -e ../beside.txt && echo parent-shared; echo x > guest-wrote.txt; grep -c ' 9p ' /proc/mounts")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "CM_VIRTIOFSD=/nonexistent/virtiofsd")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "read over 9p")
	require.NotContains(t, string(out), "parent-shared", "the working directory's parent was shared")
	require.Contains(t, string(out), "vmtest: sharing source tree "+work+" (the working directory only: it is in no repository or module)")
	results, err := filepath.Glob(filepath.Join(reports, "*", "results.json"))
	require.NoError(t, err)
	require.Len(t, results, 1)
	var res struct{ Sharing string }
	data, err := os.ReadFile(results[0])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &res))
	require.True(t, strings.HasPrefix(res.Sharing, "9p (modules virtio_pci, 9pnet, 9pnet_virtio, 9p, overlay loaded at boot from the kernel's own package); not virtiofs"), "sharing: %s", res.Sharing)
	require.Contains(t, res.Sharing, "; source tree "+work+" (the working directory only")
	_, err = os.Lstat(filepath.Join(work, "guest-wrote.txt"))
	require.ErrorIs(t, err, os.ErrNotExist, "a write in the guest reached the host")
}

// ociImageFiles returns the files of an OCI image in the ci-kernels layout
// made from the e2e kernel: its bzImage and config under /boot, and, under
// lib/modules/RELEASE, the modules sharing needs (virtio_pci, fuse,
// virtiofs, overlay) with their dependencies, taken from its Debian
// package's modules tree.
func ociImageFiles(t *testing.T) map[string][]byte {
	t.Helper()
	k := e2e.kernel
	if k.Modules == "" {
		if strings.HasPrefix(k.Source, "debian:") {
			t.Fatalf("the Debian e2e kernel has no modules tree: %s", k.ModulesMissing)
		}
		t.Skipf("the e2e kernel (%s) has no modules tree to put in an image", k.Source)
	}
	files := map[string][]byte{}
	read := func(dst, src string) {
		data, err := os.ReadFile(src)
		require.NoError(t, err)
		files[dst] = data
	}
	read("boot/vmlinuz", k.Path)
	require.NotEmpty(t, k.ConfigPath, "the e2e kernel's config")
	read("boot/config", k.ConfigPath)
	root := filepath.Join(k.Modules, k.ModulesRelease)
	dep, err := os.ReadFile(filepath.Join(root, "modules.dep"))
	require.NoError(t, err)
	lines := map[string][]string{} // module name -> its path, then its dependencies' paths
	for line := range strings.SplitSeq(string(dep), "\n") {
		p, rest, ok := strings.Cut(line, ":")
		if ok {
			lines[strings.TrimSuffix(filepath.Base(p), ".ko")] = append([]string{p}, strings.Fields(rest)...)
		}
	}
	for _, m := range []string{"virtio_pci", "fuse", "virtiofs", "overlay"} {
		require.NotNil(t, lines[m], "module %s in %s", m, root)
		for _, p := range lines[m] {
			read(filepath.Join("lib/modules", k.ModulesRelease, p), filepath.Join(root, p))
		}
	}
	return files
}

// TestE2EShareOCIModules boots a kernel from an OCI image on a loopback
// registry that carries its own modules (the e2e kernel and the modules
// sharing needs, from its Debian package): vmtest extracts them with the
// image, the guest loads them at boot and mounts the host's files over
// virtiofs, and the report says so.
func TestE2EShareOCIModules(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	img, err := crane.Image(ociImageFiles(t))
	require.NoError(t, err)
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/debian-kernel:6.1"
	require.NoError(t, crane.Push(img, ref))

	work := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(work, "in.txt"), []byte("read over virtiofs\n"), 0o644))
	reports := t.TempDir()
	cmd := exec.Command(e2e.vmtest, "exec", "--accel", "tcg", "--kernel", "oci:"+ref, "--cache-dir", t.TempDir(),
		"--report", reports, "--", "/bin/sh", "-c", "cat in.txt; grep -c ' virtiofs ' /proc/mounts")
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "read over virtiofs")
	results, err := filepath.Glob(filepath.Join(reports, "*", "results.json"))
	require.NoError(t, err)
	require.Len(t, results, 1)
	var res struct{ Sharing string }
	data, err := os.ReadFile(results[0])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &res))
	require.True(t, strings.HasPrefix(res.Sharing, "virtiofs (modules virtio_pci, fuse, virtiofs, overlay loaded at boot"), "sharing: %s", res.Sharing)
}
