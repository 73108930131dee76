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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels/debian"
	"github.com/corematrix/corematrix/kernels/internal/fakearchive"
)

// members returns the member names of struct typ in the BTF of image path.
func members(t *testing.T, path, typ string) map[string]bool {
	t.Helper()
	spec, err := LoadBTF(path)
	require.NoError(t, err, "LoadBTF(%s)", path)
	var s *btf.Struct
	require.NoError(t, spec.TypeByName(typ, &s), "struct %s", typ)
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
			img, err := r.ResolveName(ctx, tt.name)
			require.NoError(t, err)
			require.Equal(t, tt.name, img.Name, "Resolve(%s) = name %q version %q release %q source %q; want %q %q %q", tt.name, img.Name, img.Version, img.Release, img.Source, tt.version, tt.release, tt.source)
			require.Equal(t, tt.version, img.Version, "Resolve(%s) = name %q version %q release %q source %q; want %q %q %q", tt.name, img.Name, img.Version, img.Release, img.Source, tt.version, tt.release, tt.source)
			require.Equal(t, tt.release, img.Release, "Resolve(%s) = name %q version %q release %q source %q; want %q %q %q", tt.name, img.Name, img.Version, img.Release, img.Source, tt.version, tt.release, tt.source)
			require.Equal(t, tt.source, img.Source, "Resolve(%s) = name %q version %q release %q source %q; want %q %q %q", tt.name, img.Name, img.Version, img.Release, img.Source, tt.version, tt.release, tt.source)
			require.True(t, img.HasBTF, "HasBTF %v, KernelVersion %q", img.HasBTF, img.KernelVersion)
			require.True(t, strings.HasPrefix(img.KernelVersion, tt.release+" "), "HasBTF %v, KernelVersion %q", img.HasBTF, img.KernelVersion)
			require.Equal(t, (img.ConfigPath != ""), tt.config, "ConfigPath = %q, want config %v", img.ConfigPath, tt.config)
			require.False(t, tt.config && (img.Config["CONFIG_DEBUG_INFO_BTF"] != "y" || img.Config["CONFIG_BPF_LSM"] != "n" || img.Config["CONFIG_BPF_EVENTS"] != "n"), "config highlights = %v", img.Config)
		})
	}
	img, _ := r.ResolveName(ctx, "5.10")
	m := members(t, img.Path, "task_struct")
	require.True(t, m["state"], "5.10 task_struct members = %v", m)
	require.True(t, m["start_boottime"], "5.10 task_struct members = %v", m)
	require.False(t, m["__state"], "5.10 task_struct members = %v", m)
}

func TestResolveCachedIsOfflineAndFast(t *testing.T) {
	fa := newFakeArchive(t)
	opts := testOptions(t, fa, "")
	ctx := context.Background()
	names := []string{"5.10", "6.1", "latest"}
	first := map[string]string{}
	r := newResolver(t, opts)
	for _, n := range names {
		img, err := r.ResolveName(ctx, n)
		require.NoError(t, err)
		first[n] = img.SHA256
	}
	before := fa.Hits("")
	start := time.Now()
	r2 := newResolver(t, opts)
	for _, n := range names {
		img, err := r2.ResolveName(ctx, n)
		require.NoError(t, err)
		require.Equal(t, first[n], img.SHA256, "%s resolved to %s, then to %s", n, first[n], img.SHA256)
	}
	t.Logf("cached resolution took %s", time.Since(start))
	n := fa.Hits("") - before
	require.EqualValues(t, 0, n, "cached resolution made %d requests, want 0", n)

	// Offline, with every TTL expired and the mirror gone, the cache serves.
	fa.Server.Close()
	opts.Offline, opts.IndexTTL = true, time.Nanosecond
	r3 := newResolver(t, opts)
	for _, n := range names {
		img, err := r3.ResolveName(ctx, n)
		require.NoError(t, err, "offline Resolve(%s) = %v,", n, img)
		require.Equal(t, first[n], img.SHA256, "offline Resolve(%s) = %v, %v", n, img, err)
	}
	// Offline with an empty cache names the problem.
	opts.CacheDir = t.TempDir()
	_, err := newResolver(t, opts).ResolveName(ctx, "6.1")
	require.ErrorIs(t, err, debian.ErrOffline, "offline Resolve with an empty cache = %v, want ErrOffline", err)
}

func TestResolveUnavailable(t *testing.T) {
	fa := newFakeArchive(t)
	opts := testOptions(t, fa, "")
	opts.OCIRepository = "127.0.0.1:1/ci-kernels" // nothing listens there
	_, err := newResolver(t, opts).ResolveName(context.Background(), "5.4")
	require.ErrorIs(t, err, ErrUnavailable, "Resolve(5.4) = %v, want ErrUnavailable", err)
	for _, want := range []string{
		"kernel 5.4 is unavailable",
		"no configured Debian suite serves 5.4",
		"bullseye: 5.10; bookworm: 6.1; sid: 7.2",
		"OCI image 127.0.0.1:1/ci-kernels:5.4",
		"oci:127.0.0.1:1/ci-kernels:5.4",
		"local bzImage",
	} {
		assert.Contains(t, err.Error(), want, "error %q lacks %q", err, want)
	}
}

func TestResolveSignatureFailure(t *testing.T) {
	fa := newFakeArchive(t)
	opts := testOptions(t, fa, "")
	opts.Keyring = fakearchive.WriteKeyring(t, t.TempDir(), fakearchive.NewKey(t))
	_, err := newResolver(t, opts).ResolveName(context.Background(), "6.1")
	require.ErrorIs(t, err, debian.ErrBadSignature, "Resolve with a foreign keyring = %v, want ErrBadSignature and ErrUnavailable", err)
	require.ErrorIs(t, err, ErrUnavailable, "Resolve with a foreign keyring = %v, want ErrBadSignature and ErrUnavailable", err)
	n := fa.Hits(".deb")
	require.EqualValues(t, 0, n, "downloaded %d packages from an unverified archive", n)
}

func TestResolveCorruptEntryRefetched(t *testing.T) {
	fa := newFakeArchive(t)
	opts := testOptions(t, fa, "")
	ctx := context.Background()
	img, err := newResolver(t, opts).ResolveName(ctx, "6.1")
	require.NoError(t, err)
	good, _ := os.ReadFile(img.Path)
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 0x55
	require.NoError(t, os.WriteFile(img.Path, bad, 0o644))
	img2, err := newResolver(t, opts).ResolveName(ctx, "6.1")
	require.NoError(t, err)
	got, _ := os.ReadFile(img2.Path)
	require.EqualValues(t, img.SHA256, img2.SHA256, "after corruption resolved %s (content intact %v), want %s", img2.SHA256, string(got) == string(good), img.SHA256)
	require.Equal(t, string(good), string(got), "after corruption resolved %s (content intact %v), want %s", img2.SHA256, string(got) == string(good), img.SHA256)
	n := fa.Hits(".deb")
	require.EqualValues(t, 2, n, "package downloaded %d times, want 2", n)
}

func TestResolveConcurrentGoroutines(t *testing.T) {
	fa := newFakeArchive(t)
	opts := testOptions(t, fa, "")
	var wg sync.WaitGroup
	sums := make([]string, 8)
	errs := make([]error, 8)
	for i := range sums {
		wg.Go(func() {
			r, err := New(opts) // separate resolvers share only the cache
			if err != nil {
				errs[i] = err
				return
			}
			img, err := r.ResolveName(context.Background(), "6.1")
			if err == nil {
				sums[i] = img.SHA256
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range sums {
		require.Nil(t, errs[i], "goroutine %d: %s, %v (goroutine 0: %s)", i, sums[i], errs[i], sums[0])
		require.Equal(t, sums[0], sums[i], "goroutine %d: %s, %v (goroutine 0: %s)", i, sums[i], errs[i], sums[0])
	}
	n := fa.Hits("linux-image-6.1.0-50-cloud-amd64_6.1.176-1_amd64.deb")
	require.EqualValues(t, 1, n, "package downloaded %d times by 8 goroutines, want 1", n)
	n = fa.Hits("bookworm/InRelease")
	require.EqualValues(t, 1, n, "bookworm InRelease fetched %d times by 8 goroutines, want 1", n)
}

// TestHelperResolve is run as a child process by TestResolveTwoProcesses.
func TestHelperResolve(t *testing.T) {
	if os.Getenv("CM_TEST_HELPER") != "1" {
		t.Skip("helper process for TestResolveTwoProcesses")
	}
	r, err := New(Options{CacheDir: os.Getenv("CM_TEST_CACHE"), DebianMirror: os.Getenv("CM_TEST_MIRROR"),
		Keyring: os.Getenv("CM_TEST_KEYRING"), Suites: []string{"bookworm"}, OCIRepository: "none"})
	require.NoError(t, err)
	img, err := r.ResolveName(context.Background(), "6.1")
	require.NoError(t, err)
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
		require.NoError(t, cmd.Start())
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	var sums []string
	for i, cmd := range cmds {
		err := cmd.Wait()
		require.NoError(t, err, "process %d: %v\n%s", i, err, outs[i])
		_, after, ok := strings.Cut(outs[i].String(), "RESOLVED ")
		require.True(t, ok, "process %d printed no result:\n%s", i, outs[i])
		sums = append(sums, strings.Fields(after)[0])
	}
	require.Equal(t, sums[1], sums[0], "processes resolved %s and %s", sums[0], sums[1])
	n := fa.Hits(".deb")
	require.EqualValues(t, 1, n, "package downloaded %d times by two processes, want 1", n)
}

// A suite that cannot be read must not pin a name for the index lifetime:
// "latest" resolved among the suites that answered is used for this run only,
// and the next run, with the suite back, resolves it again.
func TestResolveWithoutASuiteIsNotRemembered(t *testing.T) {
	fa := newFakeArchive(t)
	good := fa.Get("dists/sid/InRelease")
	fa.Set("dists/sid/InRelease", []byte("not an InRelease file"))
	opts := testOptions(t, fa, "")
	ctx := context.Background()

	img, err := newResolver(t, opts).ResolveName(ctx, "latest")
	require.NoError(t, err)
	require.Equal(t, "6.1.176", img.Version, "latest among bullseye and bookworm")

	fa.Set("dists/sid/InRelease", good)
	img, err = newResolver(t, opts).ResolveName(ctx, "latest")
	require.NoError(t, err)
	require.Equal(t, "7.2.13", img.Version, "with sid readable again, latest must be resolved anew")

	// A complete resolution is remembered: the same name resolves again
	// without touching the archive's indices.
	before := fa.Hits("InRelease")
	img, err = newResolver(t, opts).ResolveName(ctx, "latest")
	require.NoError(t, err)
	require.Equal(t, "7.2.13", img.Version)
	require.Equal(t, before, fa.Hits("InRelease"))
}

// The identity a kernel was asked as survives resolution unchanged: the
// name as written, its architecture and its parsed form; the image fields
// are filled in.
func TestResolveKeepsIdentity(t *testing.T) {
	fa := newFakeArchive(t)
	r := newResolver(t, testOptions(t, fa, ""))
	ctx := context.Background()
	for _, name := range []string{"6.1", "6.1/amd64"} {
		k, err := kernel.Parse(name)
		require.NoError(t, err)
		got, err := r.Resolve(ctx, k)
		require.NoError(t, err, "Resolve(%s)", name)
		assert.Equal(t, name, got.Name)
		assert.Equal(t, kernel.AMD64, got.Arch)
		assert.Equal(t, k.Spec, got.Spec)
		assert.Equal(t, "6.1.176", got.Version)
		assert.True(t, got.Resolved(), "Resolve(%s) has no image path", name)
	}
	// An arm64 name resolves through the suites' arm64 indices to the
	// cloud-arm64 package.
	k, err := kernel.Parse("6.1/arm64")
	require.NoError(t, err)
	got, err := r.Resolve(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, "6.1/arm64", got.Name)
	assert.Equal(t, kernel.ARM64, got.Arch)
	assert.Equal(t, "6.1.0-50-cloud-arm64", got.Release)
	assert.Equal(t, "6.1.176", got.Version)
	assert.Contains(t, got.Source, "linux-image-6.1.0-50-cloud-arm64")
	assert.True(t, got.HasBTF)
	// Suites without an arm64 index do not serve 5.10/arm64: unavailable,
	// saying so.
	k, err = kernel.Parse("5.10/arm64")
	require.NoError(t, err)
	_, err = r.Resolve(ctx, k)
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, ErrArch)
	// The arm64 guest's busybox comes from the same verified archive.
	bb, err := r.Busybox(ctx, "arm64")
	require.NoError(t, err)
	data, err := os.ReadFile(bb)
	require.NoError(t, err)
	assert.Equal(t, "\x7fELF arm64 busybox for tests", string(data))
	_, err = r.Busybox(ctx, "riscv64")
	require.Error(t, err)
}

func TestSuiteErrorsSayASharedFailureOnce(t *testing.T) {
	suites := []string{"bookworm", "trixie", "trixie-backports"}
	errs := []error{
		errors.New("GET http://m/debian/dists/bookworm/InRelease: mirror m did not answer within 30s (tried 3 times)"),
		errors.New("GET http://m/debian/dists/trixie/InRelease: mirror m did not answer within 30s (tried 3 times)"),
		errors.New("GET http://m/debian/dists/trixie-backports/InRelease: 404 Not Found"),
	}
	got := suiteErrors(suites, errs)
	require.Len(t, got, 2)
	assert.Equal(t, "suites bookworm, trixie: GET http://m/debian/dists/SUITE/InRelease: mirror m did not answer within 30s (tried 3 times)", got[0].Error())
	assert.ErrorIs(t, got[0], errs[0])
	assert.Equal(t, "suite trixie-backports: GET http://m/debian/dists/trixie-backports/InRelease: 404 Not Found", got[1].Error())
	assert.Nil(t, suiteErrors(suites, make([]error, 3)))
}
