package kernels

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels/armimage"
)

// arm64Image returns a synthetic arm64 Image: the header, a version banner
// and a BTF blob holding a function named fn.
func arm64Image(t testing.TB, release, fn string) []byte {
	t.Helper()
	b, err := btf.NewBuilder(nil, nil)
	require.NoError(t, err)
	for i := range 400 {
		_, err := b.Add(&btf.Int{Name: fmt.Sprintf("pad_%03d", i), Size: 8})
		require.NoError(t, err)
	}
	_, err = b.Add(&btf.Func{Name: fn, Type: &btf.FuncProto{Return: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}}, Linkage: btf.GlobalFunc})
	require.NoError(t, err)
	raw, err := b.Marshal(nil, nil)
	require.NoError(t, err)
	var img bytes.Buffer
	_ = binary.Write(&img, binary.LittleEndian, armimage.Header{ImageSize: 1 << 20, Flags: 0x0a, Magic: armimage.Magic})
	img.WriteString("Linux version %s\x00\x00Linux version " + release + " (debian-kernel@lists.debian.org) (gcc-12) #1 SMP Debian\n")
	img.Write(make([]byte, 11))
	img.Write(raw)
	return img.Bytes()
}

// TestResolveLocalARM64 checks that local arm64 Images, raw and gzipped,
// resolve with their architecture, release and BTF read from the image.
func TestResolveLocalARM64(t *testing.T) {
	dir := t.TempDir()
	img := arm64Image(t, "6.1.0-50-cloud-arm64", "__arm64_sys_openat")
	raw := filepath.Join(dir, "Image")
	require.NoError(t, os.WriteFile(raw, img, 0o644))
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(img)
	zw.Close()
	gz := filepath.Join(dir, "gz", "arch", "arm64", "boot", "Image.gz")
	require.NoError(t, os.MkdirAll(filepath.Dir(gz), 0o755))
	require.NoError(t, os.WriteFile(gz, z.Bytes(), 0o644))

	r, err := New(Options{CacheDir: t.TempDir(), DebianMirror: "http://127.0.0.1:1", OCIRepository: "none"})
	require.NoError(t, err)
	for _, p := range []string{raw, filepath.Join(dir, "gz")} {
		got, err := r.ResolveName(context.Background(), p+"/arm64")
		require.NoError(t, err, p)
		require.EqualValues(t, ArchARM64, got.Arch, p)
		require.Equal(t, "6.1.0-50-cloud-arm64", got.Release, p)
		require.True(t, got.HasBTF, p)
		spec, err := LoadBTF(got.Path)
		require.NoError(t, err, p)
		var fn *btf.Func
		require.NoError(t, spec.TypeByName("__arm64_sys_openat", &fn), p)
		a, err := ImageArch(got.Path)
		require.NoError(t, err)
		require.Equal(t, ArchARM64, a)

		// Without the suffix the name asks for an amd64 kernel: refused,
		// naming the suffix to add.
		_, err = r.ResolveName(context.Background(), p)
		require.ErrorIs(t, err, ErrArchMismatch, p)
		require.ErrorContains(t, err, p+"/arm64", p)
	}
}
