package bzimage

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pierrec/lz4/v4"
)

// x86ish returns n deterministic bytes with many E8/E9 rel32 branches whose
// high byte is 0x00 or 0xFF, so the xz x86 BCJ filter has work to do.
func x86ish(n int) []byte {
	r := rand.New(rand.NewSource(1))
	b := make([]byte, 0, n)
	for len(b) < n-5 {
		switch r.Intn(6) {
		case 0:
			off := int32(r.Intn(1<<20) - 1<<19)
			b = append(b, 0xe8)
			b = binary.LittleEndian.AppendUint32(b, uint32(off))
		case 1:
			b = append(b, 0x48, 0x89, 0xe5, 0x90)
		default:
			b = append(b, byte(r.Intn(256)))
		}
	}
	for len(b) < n {
		b = append(b, 0x90)
	}
	return b
}

// withSize appends the uncompressed size as the kernel build's size_append does.
func withSize(p []byte, n int) []byte {
	return binary.LittleEndian.AppendUint32(append([]byte(nil), p...), uint32(n))
}

// compressCLI compresses in with the named tool and args, as the kernel's
// arch/x86/boot/compressed Makefile does.
func compressCLI(t *testing.T, in []byte, tool string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed: %v", tool, err)
	}
	cmd := exec.Command(tool, args...)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	require.NoError(t, err, "%s %v", tool, args)
	return out
}

// lz4Legacy writes an LZ4 legacy frame with blocks of blockSize input bytes.
func lz4Legacy(t *testing.T, in []byte, blockSize int) []byte {
	out := binary.LittleEndian.AppendUint32(nil, lz4LegacyMagic)
	buf := make([]byte, lz4.CompressBlockBound(blockSize))
	for len(in) > 0 {
		n := min(blockSize, len(in))
		var c lz4.Compressor
		m, err := c.CompressBlock(in[:n], buf)
		require.NoError(t, err, "lz4 compress block: n=%d err=%v", m, err)
		require.NotEqual(t, 0, m, "lz4 compress block: n=%d err=%v", m, err)
		out = binary.LittleEndian.AppendUint32(out, uint32(m))
		out = append(out, buf[:m]...)
		in = in[n:]
	}
	return out
}

func TestDecompressFormats(t *testing.T) {
	data := x86ish(1<<20 + 12345)
	big := bytes.Repeat(data, lz4LegacyBlockMax/len(data)+1) // more than one legacy block
	tests := []struct {
		name string
		want Compression
		in   []byte
		make func(t *testing.T) []byte
	}{
		{"gzip", Gzip, data, func(t *testing.T) []byte { return compressCLI(t, data, "gzip", "-n", "-1", "-c") }},
		{"bzip2", Bzip2, data, func(t *testing.T) []byte { return withSize(compressCLI(t, data, "bzip2", "-1", "-c"), len(data)) }},
		{"lzma", LZMA, data, func(t *testing.T) []byte { return withSize(compressCLI(t, data, "lzma", "-1", "-c"), len(data)) }},
		{"xz-x86-bcj", XZ, data, func(t *testing.T) []byte {
			return withSize(compressCLI(t, data, "xz", "--check=crc32", "--threads=1", "--x86", "--lzma2=preset=1,dict=32MiB", "-c"), len(data))
		}},
		{"xz-plain", XZ, data, func(t *testing.T) []byte {
			return withSize(compressCLI(t, data, "xz", "-1", "--check=crc64", "-c"), len(data))
		}},
		{"lz4-cli", LZ4, data, func(t *testing.T) []byte { return withSize(compressCLI(t, data, "lz4", "-l", "-9", "-c"), len(data)) }},
		{"lz4-go-2-blocks", LZ4, big, func(t *testing.T) []byte { return withSize(lz4Legacy(t, big, lz4LegacyBlockMax), len(big)) }},
		{"zstd", Zstd, data, func(t *testing.T) []byte { return withSize(compressCLI(t, data, "zstd", "-3", "-c"), len(data)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.make(t)
			out, c, err := Decompress(p)
			require.NoError(t, err, "Decompress")
			assert.Equal(t, tt.want, c, "compression = %q, want %q", c, tt.want)
			want := tt.in
			require.Equal(t, want, out, "decompressed %d bytes differ from the %d input bytes", len(out), len(want))
		})
	}
}

func TestDecompressSizeMismatch(t *testing.T) {
	data := x86ish(1 << 16)
	p := withSize(lz4Legacy(t, data, lz4LegacyBlockMax), len(data)+1)
	_, _, err := Decompress(p)
	require.Error(t, err, "Decompress accepted a payload whose size trailer does not match")
}

func TestDetectUnknown(t *testing.T) {
	c, err := Detect([]byte("hello world"))
	require.Error(t, err, "Detect(text) = %q, want an error", c)
}
