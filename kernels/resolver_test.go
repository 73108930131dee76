package kernels

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/kernels/debian"
	"github.com/corematrix/corematrix/kernels/internal/fakearchive"
)

// members returns the member names of struct typ in the BTF of image path.
func members(t *testing.T, path, typ string) map[string]bool {
	t.Helper()
	spec, err := LoadBTF(path)
	if err != nil {
		t.Fatalf("LoadBTF(%s): %v", path, err)
	}
	var s *btf.Struct
	if err := spec.TypeByName(typ, &s); err != nil {
		t.Fatalf("struct %s: %v", typ, err)
	}
	m := map[string]bool{}
	for _, mem := range s.Members {
		m[mem.Name] = true
	}
	return m
}

func TestResolveDebianNames(t *testing.T) {
	fa := newFakeArchive(t)
	r := newResolver(t, testOptions(t, fa, ""))
	ctx := context.Background()
	tests := []struct {
		name, version, release, source string
		config                         bool
	}{
		{"6.1", "6.1.176", "6.1.0-50-cloud-amd64", "debian:bookworm/linux-image-6.1.0-50-cloud-amd64=6.1.176-1", true},
		{"6.1.170", "6.1.170", "6.1.0-49-cloud-amd64", "debian:bookworm/linux-image-6.1.0-49-cloud-amd64=6.1.170-1", true},
		{"5.10", "5.10.223", "5.10.0-32-cloud-amd64", "debian:bullseye/linux-image-5.10.0-32-cloud-amd64=5.10.223-1", true},
		{"latest", "7.2.13", "7.2.13+deb14-cloud-amd64", "debian:sid/linux-binary-7.2.13+deb14-cloud-amd64=7.2.13-1", false},
		{"deb:bookworm/linux-image-6.1.0-49-cloud-amd64", "6.1.170", "6.1.0-49-cloud-amd64", "debian:bookworm/linux-image-6.1.0-49-cloud-amd64=6.1.170-1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := r.Resolve(ctx, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if img.Name != tt.name || img.Version != tt.version || img.Release != tt.release || img.Source != tt.source {
				t.Fatalf("Resolve(%s) = name %q version %q release %q source %q; want %q %q %q", tt.name, img.Name, img.Version, img.Release, img.Source, tt.version, tt.release, tt.source)
			}
			if !img.HasBTF || !strings.HasPrefix(img.KernelVersion, tt.release+" ") {
				t.Fatalf("HasBTF %v, KernelVersion %q", img.HasBTF, img.KernelVersion)
			}
			if tt.config != (img.ConfigPath != "") {
				t.Fatalf("ConfigPath = %q, want config %v", img.ConfigPath, tt.config)
			}
			if tt.config && (img.Config["CONFIG_DEBUG_INFO_BTF"] != "y" || img.Config["CONFIG_BPF_LSM"] != "n" || img.Config["CONFIG_BPF_EVENTS"] != "n") {
				t.Fatalf("config highlights = %v", img.Config)
			}
		})
	}
	img, _ := r.Resolve(ctx, "5.10")
	if m := members(t, img.Path, "task_struct"); !m["state"] || !m["start_boottime"] || m["__state"] {
		t.Fatalf("5.10 task_struct members = %v", m)
	}
}

func TestResolveCachedIsOfflineAndFast(t *testing.T) {
	fa := newFakeArchive(t)
	opts := testOptions(t, fa, "")
	ctx := context.Background()
	names := []string{"5.10", "6.1", "latest"}
	first := map[string]string{}
	r := newResolver(t, opts)
	for _, n := range names {
		img, err := r.Resolve(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		first[n] = img.SHA256
	}
	before := fa.Hits("")
	start := time.Now()
	r2 := newResolver(t, opts)
	for _, n := range names {
		img, err := r2.Resolve(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if img.SHA256 != first[n] {
			t.Fatalf("%s resolved to %s, then to %s", n, first[n], img.SHA256)
		}
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("cached resolution took %s, want well under a second", el)
	}
	if n := fa.Hits("") - before; n != 0 {
		t.Fatalf("cached resolution made %d requests, want 0", n)
	}

	// Offline, with every TTL expired and the mirror gone, the cache serves.
	fa.Server.Close()
	opts.Offline, opts.IndexTTL = true, time.Nanosecond
	r3 := newResolver(t, opts)
	for _, n := range names {
		if img, err := r3.Resolve(ctx, n); err != nil || img.SHA256 != first[n] {
			t.Fatalf("offline Resolve(%s) = %v, %v", n, img, err)
		}
	}
	// Offline with an empty cache names the problem.
	opts.CacheDir = t.TempDir()
	_, err := newResolver(t, opts).Resolve(ctx, "6.1")
	if !errors.Is(err, debian.ErrOffline) {
		t.Fatalf("offline Resolve with an empty cache = %v, want ErrOffline", err)
	}
}

func TestResolveUnavailable(t *testing.T) {
	fa := newFakeArchive(t)
	opts := testOptions(t, fa, "")
	opts.OCIRepository = "127.0.0.1:1/ci-kernels" // nothing listens there
	_, err := newResolver(t, opts).Resolve(context.Background(), "5.4")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Resolve(5.4) = %v, want ErrUnavailable", err)
	}
	for _, want := range []string{
		"kernel 5.4 is unavailable",
		"no configured Debian suite serves 5.4",
		"bullseye: 5.10; bookworm: 6.1; sid: 7.2",
		"OCI image 127.0.0.1:1/ci-kernels:5.4",
		"oci:127.0.0.1:1/ci-kernels:5.4",
		"local bzImage",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestResolveSignatureFailure(t *testing.T) {
	fa := newFakeArchive(t)
	opts := testOptions(t, fa, "")
	opts.Keyring = fakearchive.WriteKeyring(t, t.TempDir(), fakearchive.NewKey(t))
	_, err := newResolver(t, opts).Resolve(context.Background(), "6.1")
	if !errors.Is(err, debian.ErrBadSignature) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Resolve with a foreign keyring = %v, want ErrBadSignature and ErrUnavailable", err)
	}
	if n := fa.Hits(".deb"); n != 0 {
		t.Fatalf("downloaded %d packages from an unverified archive", n)
	}
}

func TestResolveCorruptEntryRefetched(t *testing.T) {
	fa := newFakeArchive(t)
	opts := testOptions(t, fa, "")
	ctx := context.Background()
	img, err := newResolver(t, opts).Resolve(ctx, "6.1")
	if err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(img.Path)
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 0x55
	if err := os.WriteFile(img.Path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	img2, err := newResolver(t, opts).Resolve(ctx, "6.1")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(img2.Path)
	if img2.SHA256 != img.SHA256 || string(got) != string(good) {
		t.Fatalf("after corruption resolved %s (content intact %v), want %s", img2.SHA256, string(got) == string(good), img.SHA256)
	}
	if n := fa.Hits(".deb"); n != 2 {
		t.Fatalf("package downloaded %d times, want 2", n)
	}
}

func TestResolveConcurrentGoroutines(t *testing.T) {
	fa := newFakeArchive(t)
	opts := testOptions(t, fa, "")
	var wg sync.WaitGroup
	sums := make([]string, 8)
	errs := make([]error, 8)
	for i := range sums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := New(opts) // separate resolvers share only the cache
			if err != nil {
				errs[i] = err
				return
			}
			img, err := r.Resolve(context.Background(), "6.1")
			if err == nil {
				sums[i] = img.SHA256
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i := range sums {
		if errs[i] != nil || sums[i] != sums[0] {
			t.Fatalf("goroutine %d: %s, %v (goroutine 0: %s)", i, sums[i], errs[i], sums[0])
		}
	}
	if n := fa.Hits("linux-image-6.1.0-50-cloud-amd64_6.1.176-1_amd64.deb"); n != 1 {
		t.Fatalf("package downloaded %d times by 8 goroutines, want 1", n)
	}
	if n := fa.Hits("bookworm/InRelease"); n != 1 {
		t.Fatalf("bookworm InRelease fetched %d times by 8 goroutines, want 1", n)
	}
}

// TestHelperResolve is run as a child process by TestResolveTwoProcesses.
func TestHelperResolve(t *testing.T) {
	if os.Getenv("CM_TEST_HELPER") != "1" {
		t.Skip("helper process for TestResolveTwoProcesses")
	}
	r, err := New(Options{CacheDir: os.Getenv("CM_TEST_CACHE"), DebianMirror: os.Getenv("CM_TEST_MIRROR"),
		Keyring: os.Getenv("CM_TEST_KEYRING"), Suites: []string{"bookworm"}, OCIRepository: "none"})
	if err != nil {
		t.Fatal(err)
	}
	img, err := r.Resolve(context.Background(), "6.1")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("RESOLVED %s\n", img.SHA256)
}

func TestResolveTwoProcesses(t *testing.T) {
	fa := newFakeArchive(t)
	cacheDir := t.TempDir()
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperResolve$", "-test.v")
		cmd.Env = append(os.Environ(), "CM_TEST_HELPER=1", "CM_TEST_CACHE="+cacheDir, "CM_TEST_MIRROR="+fa.URL(), "CM_TEST_KEYRING="+fa.Keyring)
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	var sums []string
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
		_, after, ok := strings.Cut(outs[i].String(), "RESOLVED ")
		if !ok {
			t.Fatalf("process %d printed no result:\n%s", i, outs[i])
		}
		sums = append(sums, strings.Fields(after)[0])
	}
	if sums[0] != sums[1] {
		t.Fatalf("processes resolved %s and %s", sums[0], sums[1])
	}
	if n := fa.Hits(".deb"); n != 1 {
		t.Fatalf("package downloaded %d times by two processes, want 1", n)
	}
}
