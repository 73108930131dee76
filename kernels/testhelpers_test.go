package kernels

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels/internal/fakearchive"
	"github.com/corematrix/corematrix/kernels/internal/fakekernel"
)

const (
	kv510 = "5.10.0-32-cloud-amd64 (builder@example.org) #1 SMP Debian 5.10.223-1 (2024-08-10)"
	kv61  = "6.1.0-50-cloud-amd64 (builder@example.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)"
	kv61b = "6.1.0-49-cloud-amd64 (builder@example.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.170-1 (2026-05-02)"
	kv72  = "7.2.13+deb14-cloud-amd64 (builder@example.org) #1 SMP PREEMPT_DYNAMIC Debian 7.2.13-1 (2026-10-28)"
)

const testConfig = "CONFIG_BPF_SYSCALL=y\nCONFIG_DEBUG_INFO_BTF=y\nCONFIG_KPROBES=y\n# CONFIG_BPF_LSM is not set\n"

func fakeImage(t testing.TB, kernelVersion string, members ...string) []byte {
	t.Helper()
	img, err := fakekernel.Kernel(kernelVersion, members...)
	require.NoError(t, err)
	return img
}

// newFakeArchive serves bullseye (5.10), bookworm (6.1.170 and 6.1.176;
// for arm64 6.1.176 and busybox-static) and sid (7.2, the linux-binary split
// without a config).
func newFakeArchive(t testing.TB) *fakearchive.Archive {
	t.Helper()
	return fakearchive.New(t, nil, []fakearchive.Kernel{
		{Suite: "bookworm", Package: "linux-image-6.1.0-50-cloud-arm64", Version: "6.1.176-1", Release: "6.1.0-50-cloud-arm64", Arch: "arm64",
			Image: arm64Image(t, "6.1.0-50-cloud-arm64", "__arm64_sys_openat"), Config: []byte(testConfig)},
		{Suite: "bookworm", Package: "busybox-static", Version: "1:1.35.0-4+b3", Arch: "arm64",
			Files: map[string][]byte{"./bin/busybox": []byte("\x7fELF arm64 busybox for tests"), "./usr/share/doc/pad": make([]byte, 1100<<10)}},
		{Suite: "bullseye", Package: "linux-image-5.10.0-32-cloud-amd64", Version: "5.10.223-1", Release: "5.10.0-32-cloud-amd64",
			Image: fakeImage(t, kv510, "state", "start_boottime"), Config: []byte(testConfig)},
		{Suite: "bookworm", Package: "linux-image-6.1.0-50-cloud-amd64", Version: "6.1.176-1", Release: "6.1.0-50-cloud-amd64",
			Image: fakeImage(t, kv61, "__state", "start_boottime"), Config: []byte(testConfig)},
		{Suite: "bookworm", Package: "linux-image-6.1.0-49-cloud-amd64", Version: "6.1.170-1", Release: "6.1.0-49-cloud-amd64",
			Image: fakeImage(t, kv61b, "__state", "start_boottime"), Config: []byte(testConfig)},
		{Suite: "sid", Package: "linux-binary-7.2.13+deb14-cloud-amd64", Version: "7.2.13-1", Release: "7.2.13+deb14-cloud-amd64",
			Image: fakeImage(t, kv72, "__state", "start_boottime"), Modules: true},
	})
}

// testOptions point a Resolver at the fake archive with a private cache.
func testOptions(t testing.TB, fa *fakearchive.Archive, cacheDir string) Options {
	if cacheDir == "" {
		cacheDir = t.TempDir()
	}
	return Options{
		CacheDir:      cacheDir,
		DebianMirror:  fa.URL(),
		Keyring:       fa.Keyring,
		Suites:        []string{"bullseye", "bookworm", "sid"},
		OCIRepository: "none",
	}
}

func newResolver(t testing.TB, opts Options) *Resolver {
	t.Helper()
	r, err := New(opts)
	require.NoError(t, err)
	return r
}
