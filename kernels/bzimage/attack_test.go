package bzimage

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels/internal/fakekernel"
)

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func writeImage(t *testing.T, img []byte) string {
	p := filepath.Join(t.TempDir(), "bzImage")
	require.NoError(t, os.WriteFile(p, img, 0o644))
	return p
}

// A 1 KiB bzImage whose header claims a 4 GiB payload is refused without
// allocating the claimed size.
func TestHeaderClaimingHugePayloadAllocatesNothing(t *testing.T) {
	img := fakekernel.BzImage("6.1.0 (x) #1", []byte{0x1f, 0x8b, 0, 0, 0, 0, 0, 0})
	binary.LittleEndian.PutUint32(img[offPayloadLength:], 0xffffffff)
	p := writeImage(t, img)
	var err error
	n := allocated(func() { _, err = Vmlinux(p) })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "beyond the end of the 1032-byte file")
	assert.Less(t, n, uint64(1<<20), "bytes allocated")
}

// Payloads whose recorded size is over the limit are refused
// before decompressing; payloads that expand beyond their recorded size
// stop there. Memory stays near the recorded size, not the expansion.
func TestDecompressionBombs(t *testing.T) {
	zeros := make([]byte, 32<<20)
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	zw.Write(zeros)
	zw.Close()
	gzBomb := gz.Bytes() // its trailer records 32 MiB
	zenc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	zstdBomb := zenc.EncodeAll(zeros, nil)
	var lzBlocks []byte
	lzBlocks = binary.LittleEndian.AppendUint32(lzBlocks, lz4LegacyMagic)
	block := make([]byte, lz4.CompressBlockBound(lz4LegacyBlockMax))
	var c lz4.Compressor
	m, err := c.CompressBlock(zeros[:lz4LegacyBlockMax], block)
	require.NoError(t, err)
	for range 4 {
		lzBlocks = binary.LittleEndian.AppendUint32(lzBlocks, uint32(m))
		lzBlocks = append(lzBlocks, block[:m]...)
	}
	withSize := func(b []byte, size uint32) []byte {
		return binary.LittleEndian.AppendUint32(bytes.Clone(b), size)
	}
	gzLying := bytes.Clone(gzBomb)
	binary.LittleEndian.PutUint32(gzLying[len(gzLying)-4:], 1<<20)
	for _, tc := range []struct {
		name    string
		payload []byte
		want    string
	}{
		{"gzip recording 4 GiB", withSize(gzBomb[:len(gzBomb)-4], 0xfffffff0), "more than the limit"},
		{"gzip recording 1 MiB", gzLying, "more bytes than the image records"},
		{"zstd recording 4 GiB", withSize(zstdBomb, 0xfffffff0), "more than the limit"},
		{"zstd recording 1 MiB", withSize(zstdBomb, 1<<20), "more bytes than the image records"},
		{"lz4 recording 1 MiB", withSize(lzBlocks, 1<<20), "more bytes than the image records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, _, err = Decompress(tc.payload) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Less(t, n, uint64(12<<20), "bytes allocated for a payload recording at most 1 MiB (lz4 adds its 8 MiB block buffer)")
		})
	}
}
