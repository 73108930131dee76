package bzimage

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Compression names a payload compression format.
type Compression string

// Payload compression formats the kernel build supports (CONFIG_KERNEL_*).
const (
	Gzip  Compression = "gzip"
	Bzip2 Compression = "bzip2"
	LZMA  Compression = "lzma"
	XZ    Compression = "xz"
	LZO   Compression = "lzo"
	LZ4   Compression = "lz4"
	Zstd  Compression = "zstd"
)

// ErrUnsupportedCompression is returned for a payload this package cannot
// decompress.
var ErrUnsupportedCompression = errors.New("unsupported payload compression")

// maxVmlinux bounds the decompressed size, guarding against a corrupt size.
const maxVmlinux = 1 << 30

// Detect returns the compression of a payload from its leading magic bytes.
func Detect(p []byte) (Compression, error) {
	switch {
	case bytes.HasPrefix(p, []byte{0x1f, 0x8b}):
		return Gzip, nil
	case bytes.HasPrefix(p, []byte("BZh")):
		return Bzip2, nil
	case bytes.HasPrefix(p, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return XZ, nil
	case bytes.HasPrefix(p, []byte{0x5d, 0x00, 0x00}):
		return LZMA, nil
	case bytes.HasPrefix(p, []byte{0x89, 'L', 'Z', 'O'}):
		return LZO, nil
	case bytes.HasPrefix(p, []byte{0x02, 0x21, 0x4c, 0x18}):
		return LZ4, nil
	case bytes.HasPrefix(p, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd, nil
	}
	if len(p) > 8 {
		p = p[:8]
	}
	return "", fmt.Errorf("%w: unknown magic % x", ErrUnsupportedCompression, p)
}

// ReadPayload returns the compressed payload of the bzImage read from r.
func ReadPayload(r io.ReaderAt, h *Header) ([]byte, error) {
	p := make([]byte, h.PayloadLength)
	if _, err := r.ReadAt(p, h.PayloadOffset); err != nil {
		return nil, fmt.Errorf("read payload at %#x+%d: %w", h.PayloadOffset, h.PayloadLength, err)
	}
	return p, nil
}

// Decompress decompresses a bzImage payload into the vmlinux ELF it holds.
//
// The kernel build appends the uncompressed size as a little-endian uint32
// to every payload (gzip's own trailer serves for gzip); Decompress checks
// the result against it.
func Decompress(payload []byte) ([]byte, Compression, error) {
	c, err := Detect(payload)
	if err != nil {
		return nil, "", err
	}
	if len(payload) < 8 {
		return nil, c, fmt.Errorf("%s payload of %d bytes is too short", c, len(payload))
	}
	want := binary.LittleEndian.Uint32(payload[len(payload)-4:])
	body := payload[:len(payload)-4]
	var out []byte
	switch c {
	case Gzip:
		out, err = readAll(gzip.NewReader(bytes.NewReader(payload)))
	case Bzip2:
		out, err = readAll(bzip2.NewReader(bytes.NewReader(body)), nil)
	case LZMA:
		out, err = readAll(lzma.NewReader(bytes.NewReader(body)))
	case XZ:
		out, err = decompressXZ(body)
	case Zstd:
		var d *zstd.Decoder
		d, err = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxVmlinux), zstd.WithDecoderConcurrency(1))
		if err == nil {
			out, err = d.DecodeAll(body, nil)
			d.Close()
		}
	case LZ4:
		out, err = decompressLZ4Legacy(body)
	default:
		return nil, c, fmt.Errorf("%w: %s", ErrUnsupportedCompression, c)
	}
	if err != nil {
		return nil, c, fmt.Errorf("decompress %s payload: %w", c, err)
	}
	if uint32(len(out)) != want {
		return nil, c, fmt.Errorf("decompress %s payload: got %d bytes, the image records %d", c, len(out), want)
	}
	return out, c, nil
}

// readAll reads r to the end, bounded by maxVmlinux.
func readAll[R io.Reader](r R, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, maxVmlinux+1))
	if err != nil {
		return nil, err
	}
	if n > maxVmlinux {
		return nil, fmt.Errorf("decompressed payload exceeds %d bytes", maxVmlinux)
	}
	return buf.Bytes(), nil
}

// decompressXZ decompresses a single-stream xz payload without filters.
// Kernel builds use the x86 BCJ filter, handled by decompressXZKernel.
func decompressXZ(body []byte) ([]byte, error) {
	out, err := decompressXZKernel(body)
	if err == nil || !errors.Is(err, errNotKernelXZ) {
		return out, err
	}
	r, err := xz.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	r.SingleStream = true
	return readAll(r, nil)
}

// Vmlinux returns the decompressed vmlinux ELF of the bzImage at path.
func Vmlinux(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := ReadHeader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p, err := ReadPayload(f, h)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out, _, err := Decompress(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
