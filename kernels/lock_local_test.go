package kernels

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels/internal/fakekernel"
)

func TestLockFilePinsAndDetectsMismatch(t *testing.T) {
	fa := newFakeArchive(t)
	opts := testOptions(t, fa, "")
	ctx := context.Background()
	r := newResolver(t, opts)
	old, e, err := r.Pin(ctx, kernel.Kernel{Name: "6.1.170"})
	require.NoError(t, err)
	lockPath := filepath.Join(t.TempDir(), LockFileName)
	lf := &LockFile{Kernels: map[string]LockEntry{"6.1": e}}
	require.NoError(t, lf.Write(lockPath))
	lf, err = ReadLockFile(lockPath)
	require.NoError(t, err)

	// "6.1" is pinned to 6.1.170 although 6.1.176 is newer; with an empty
	// cache the pinned package is fetched without reading any index.
	opts.LockFile = lf
	opts.CacheDir = t.TempDir()
	before := fa.Hits("InRelease")
	img, err := newResolver(t, opts).ResolveName(ctx, "6.1")
	require.NoError(t, err)
	require.EqualValues(t, "6.1.170", img.Version, "locked 6.1 resolved to %s %s, want 6.1.170 %s", img.Version, img.SHA256, old.SHA256)
	require.EqualValues(t, old.SHA256, img.SHA256, "locked 6.1 resolved to %s %s, want 6.1.170 %s", img.Version, img.SHA256, old.SHA256)
	n := fa.Hits("InRelease") - before
	require.EqualValues(t, 0, n, "locked resolution fetched %d indices, want 0", n)

	// A lock whose hash the package does not produce is an error naming the kernel.
	bad := e
	bad.SHA256 = strings.Repeat("0", 64)
	opts.LockFile = &LockFile{Kernels: map[string]LockEntry{"6.1": bad}}
	_, err = newResolver(t, opts).ResolveName(ctx, "6.1")
	require.ErrorIs(t, err, ErrLockMismatch, "Resolve with a mismatching lock = %v, want ErrLockMismatch naming kernel 6.1", err)
	require.Contains(t, err.Error(), "kernel 6.1", "Resolve with a mismatching lock = %v, want ErrLockMismatch naming kernel 6.1", err)

	// Names not in the lock resolve as usual.
	img, err = newResolver(t, opts).ResolveName(ctx, "5.10")
	require.NoError(t, err, "unlocked 5.10 = %+v,", img)
	require.EqualValues(t, "5.10.223", img.Version, "unlocked 5.10 = %+v, %v", img, err)
}

func TestReadLockFileErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadLockFile(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist, "missing lock file: %v", err)
	for name, body := range map[string]string{
		"garbage":     "not json",
		"version":     `{"version": 9, "kernels": {}}`,
		"no checksum": `{"version": 1, "kernels": {"6.1": {"source": "debian:x"}}}`,
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		_, err := ReadLockFile(p)
		assert.Error(t, err, "ReadLockFile(%s) accepted %q", name, body)
	}
}

func TestResolveLocal(t *testing.T) {
	r := newResolver(t, Options{CacheDir: t.TempDir(), DebianMirror: "http://127.0.0.1:1", OCIRepository: "none"})
	ctx := context.Background()
	dir := t.TempDir()
	const kv = "5.4.290 (root@builder) #1 SMP Tue Jan 1 00:00:00 UTC 2026"
	file := filepath.Join(dir, "bzImage")
	os.WriteFile(file, fakeImage(t, kv, "state", "real_start_time"), 0o644)
	ci := filepath.Join(dir, "ci")
	os.MkdirAll(filepath.Join(ci, "boot"), 0o755)
	os.WriteFile(filepath.Join(ci, "boot", "vmlinuz"), fakeImage(t, kv), 0o644)
	os.WriteFile(filepath.Join(ci, "boot", "config"), []byte(testConfig), 0o644)

	img, err := r.ResolveName(ctx, file)
	require.NoError(t, err)
	require.EqualValues(t, "5.4.290", img.Version, "Resolve(file) = %+v", img)
	require.EqualValues(t, "5.4.290", img.Release, "Resolve(file) = %+v", img)
	require.True(t, img.HasBTF, "Resolve(file) = %+v", img)
	require.Equal(t, "local:"+file, img.Source, "Resolve(file) = %+v", img)
	require.Equal(t, file, img.Path, "Resolve(file) = %+v", img)
	img, err = r.ResolveName(ctx, ci)
	require.NoError(t, err)
	require.False(t, img.HasBTF, "Resolve(ci dir) = %+v; want no BTF and the config", img)
	require.NotEqual(t, "", img.ConfigPath, "Resolve(ci dir) = %+v; want no BTF and the config", img)
	require.EqualValues(t, "y", img.Config["CONFIG_KPROBES"], "Resolve(ci dir) = %+v; want no BTF and the config", img)

	// Without a config file, the config embedded in the image (IKCONFIG) serves.
	ik := filepath.Join(dir, "ikconfig", "bzImage")
	os.MkdirAll(filepath.Dir(ik), 0o755)
	withCfg, err := fakekernel.KernelWithConfig(kv, []byte(testConfig), "state")
	require.NoError(t, err)
	os.WriteFile(ik, withCfg, 0o644)
	img, err = r.ResolveName(ctx, ik)
	require.NoError(t, err, "Resolve(image with IKCONFIG) = %+v, %v; want config highlights from the image", img, err)
	require.EqualValues(t, "", img.ConfigPath, "Resolve(image with IKCONFIG) = %+v, %v; want config highlights from the image", img, err)
	require.EqualValues(t, "y", img.Config["CONFIG_KPROBES"], "Resolve(image with IKCONFIG) = %+v, %v; want config highlights from the image", img, err)
	require.EqualValues(t, "n", img.Config["CONFIG_BPF_LSM"], "Resolve(image with IKCONFIG) = %+v, %v; want config highlights from the image", img, err)

	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte(strings.Repeat("hello ", 200)), 0o644)
	elf := filepath.Join(dir, "vmlinux")
	os.WriteFile(elf, fakekernel.ELF(".BTF", []byte{1}), 0o644)
	for _, tt := range []struct{ path, want string }{
		{text, "neither an x86 bzImage nor an arm64 Image"},
		{elf, "vmlinux"},
		{filepath.Join(dir, "missing"), "no such file"},
		{t.TempDir(), "holds no boot/vmlinuz"},
	} {
		_, err := r.ResolveName(ctx, tt.path)
		assert.Error(t, err, "Resolve(%s) = %v, want an error containing %q", tt.path, err, tt.want)
		assert.Contains(t, err.Error(), tt.want, "Resolve(%s) = %v, want an error containing %q", tt.path, err, tt.want)
	}
}
