package armimage

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/require"
)

// testBTF returns a marshalled BTF blob of n integer types.
func testBTF(t *testing.T, n int) []byte {
	t.Helper()
	b, err := btf.NewBuilder(nil, nil)
	require.NoError(t, err)
	for i := range n {
		_, err := b.Add(&btf.Int{Name: fmt.Sprintf("type_%04d", i), Size: 4})
		require.NoError(t, err)
	}
	raw, err := b.Marshal(nil, nil)
	require.NoError(t, err)
	return raw
}

// testImage returns an arm64 Image: the header, then body.
func testImage(body ...[]byte) []byte {
	h := Header{Code0: 0x91005a4d, TextOffset: 0, ImageSize: 1 << 20, Flags: 0x0a, Magic: Magic}
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, h)
	for _, p := range body {
		b.Write(p)
	}
	return b.Bytes()
}

func gz(t *testing.T, p []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write(p)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

func TestParseHeader(t *testing.T) {
	img := testImage()
	_, err := ParseHeader(img)
	require.NoError(t, err)
	for name, p := range map[string][]byte{
		"short":      img[:63],
		"no magic":   append(bytes.Repeat([]byte{0}, 56), 'A', 'R', 'M', 0x65, 0, 0, 0, 0),
		"big endian": func() []byte { c := bytes.Clone(img); c[24] |= 1; return c }(),
		"bzImage":    append(bytes.Repeat([]byte{0}, 0x202), 'H', 'd', 'r', 'S'),
	} {
		_, err := ParseHeader(p)
		require.ErrorIs(t, err, ErrNotImage, name)
	}
}

func TestIsImageAndLoad(t *testing.T) {
	dir := t.TempDir()
	img := testImage([]byte("Linux version 6.1.0-50-cloud-arm64 (x@y) #1 SMP\n"))
	raw := filepath.Join(dir, "Image")
	require.NoError(t, os.WriteFile(raw, img, 0o644))
	z := filepath.Join(dir, "Image.gz")
	require.NoError(t, os.WriteFile(z, gz(t, img), 0o644))
	elf := filepath.Join(dir, "vmlinux")
	require.NoError(t, os.WriteFile(elf, append([]byte("\x7fELF"), make([]byte, 100)...), 0o644))
	notImg := filepath.Join(dir, "text.gz")
	require.NoError(t, os.WriteFile(notImg, gz(t, bytes.Repeat([]byte("x"), 100)), 0o644))

	for _, p := range []string{raw, z} {
		require.True(t, IsImage(p), p)
		got, err := Load(p)
		require.NoError(t, err, p)
		require.Equal(t, img, got, p)
	}
	for _, p := range []string{elf, notImg, filepath.Join(dir, "missing")} {
		require.False(t, IsImage(p), p)
		_, err := Load(p)
		require.Error(t, err, p)
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		img  []byte
		want string
	}{
		{testImage([]byte("Linux version 6.1.0-50-cloud-arm64 (d@l) (gcc-12) #1 SMP Debian 6.1.176-1\n")), "6.1.0-50-cloud-arm64 (d@l) (gcc-12) #1 SMP Debian 6.1.176-1"},
		// A format string first, then the banner.
		{testImage([]byte("Linux version %s\x00Linux version 5.10.0-32-cloud-arm64 (d@l) #1 SMP\n")), "5.10.0-32-cloud-arm64 (d@l) #1 SMP"},
		// A banner with a control character is skipped.
		{testImage([]byte("Linux version 1\x01bad\nLinux version 6.12.1 ok\n")), "6.12.1 ok"},
	}
	for _, tt := range tests {
		got, err := Version(tt.img)
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
	}
	_, err := Version(testImage([]byte("Linux version %s\n")))
	require.ErrorIs(t, err, ErrNoVersion)
}

func TestRawBTF(t *testing.T) {
	blob := testBTF(t, 600)
	require.Greater(t, len(blob), minBTF)
	small := testBTF(t, 3)
	// Decoys: the magic with a wrong header, a truncated blob at the end.
	decoy := []byte{0x9f, 0xeb, 0x01, 0x00, 24, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
	img := testImage(decoy, make([]byte, 13), small, make([]byte, 7), blob, make([]byte, 5), blob[:len(blob)/2])
	got, err := RawBTF(img)
	require.NoError(t, err)
	require.Equal(t, blob, got)

	spec, err := btf.LoadSpecFromReader(bytes.NewReader(got))
	require.NoError(t, err)
	_, err = spec.AnyTypeByName("type_0599")
	require.NoError(t, err)

	// A blob whose header is plausible but whose types do not parse.
	bad := bytes.Clone(blob)
	bad[24] ^= 0xff
	bad[25] ^= 0xff
	bad[27] = 0x7f
	_, err = RawBTF(testImage(bad))
	require.ErrorIs(t, err, ErrNoBTF)
	_, err = RawBTF(testImage(small, decoy))
	require.ErrorIs(t, err, ErrNoBTF, "a blob smaller than any kernel's is not the kernel's")
}

func TestDecodeBomb(t *testing.T) {
	// A gzip stream that inflates past MaxImage fails with ErrTooLarge
	// without holding more than the limit.
	old := MaxImage
	MaxImage = 4 << 20
	t.Cleanup(func() { MaxImage = old })
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = w.Write(testImage())
	zero := make([]byte, 1<<20)
	for range MaxImage>>20 + 1 {
		_, _ = w.Write(zero)
	}
	require.NoError(t, w.Close())
	_, err := Decode(b.Bytes())
	require.ErrorIs(t, err, ErrTooLarge)
}
