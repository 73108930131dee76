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

// MaxVmlinux bounds the decompressed payload (Debian's vmlinux is about
// 60 MiB). The size a payload records is checked against it before any
// output is allocated, and decompression stops at the recorded size, so a
// payload never costs more than about twice MaxVmlinux of memory.
const MaxVmlinux = 512 << 20

// maxDict bounds the LZMA/LZMA2 dictionary a payload may ask for (the kernel
// build uses 32 MiB at most).
const maxDict = 128 << 20

// slots serialises decompressions in a process, so a batch of images costs
// the memory of one.
var slots = make(chan struct{}, 1)

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

// ReadPayload returns the compressed payload of the bzImage read from r,
// whose size is size bytes. A header that places the payload outside the
// file is an error before anything is allocated.
func ReadPayload(r io.ReaderAt, size int64, h *Header) ([]byte, error) {
	if h.PayloadOffset < 0 || h.PayloadLength > size || h.PayloadOffset > size-h.PayloadLength {
		return nil, fmt.Errorf("header places the payload at %#x+%d, beyond the end of the %d-byte file", h.PayloadOffset, h.PayloadLength, size)
	}
	if h.PayloadLength > MaxImage {
		return nil, fmt.Errorf("header records a payload of %d bytes, more than the limit of %d", h.PayloadLength, MaxImage)
	}
	p := make([]byte, h.PayloadLength)
	if _, err := r.ReadAt(p, h.PayloadOffset); err != nil {
		return nil, fmt.Errorf("read payload at %#x+%d: %w", h.PayloadOffset, h.PayloadLength, err)
	}
	return p, nil
}

// Decompress decompresses a bzImage payload into the vmlinux ELF it holds.
//
// The kernel build appends the uncompressed size as a little-endian uint32
// to every payload (gzip's own trailer serves for gzip); Decompress refuses
// a size over MaxVmlinux before decompressing, stops at that size and checks
// the result against it.
func Decompress(payload []byte) ([]byte, Compression, error) {
	c, err := Detect(payload)
	if err != nil {
		return nil, "", err
	}
	if len(payload) < 8 {
		return nil, c, fmt.Errorf("%s payload of %d bytes is too short", c, len(payload))
	}
	want := int64(binary.LittleEndian.Uint32(payload[len(payload)-4:]))
	if want > MaxVmlinux {
		return nil, c, fmt.Errorf("%s payload records %d decompressed bytes, more than the limit of %d", c, want, MaxVmlinux)
	}
	body := payload[:len(payload)-4]
	slots <- struct{}{}
	defer func() { <-slots }()
	var out []byte
	switch c {
	case Gzip:
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(payload)); err == nil {
			out, err = readAll(want, zr)
		}
	case Bzip2:
		out, err = readAll(want, bzip2.NewReader(bytes.NewReader(body)))
	case LZMA:
		if len(body) >= 5 && binary.LittleEndian.Uint32(body[1:5]) > maxDict {
			return nil, c, fmt.Errorf("lzma payload asks for a %d-byte dictionary, more than the limit of %d", binary.LittleEndian.Uint32(body[1:5]), maxDict)
		}
		var lr *lzma.Reader
		if lr, err = lzma.NewReader(bytes.NewReader(body)); err == nil {
			out, err = readAll(want, lr)
		}
	case XZ:
		out, err = decompressXZ(body, want)
	case Zstd:
		var d *zstd.Decoder
		d, err = zstd.NewReader(bytes.NewReader(body), zstd.WithDecoderMaxMemory(uint64(want+maxDict)), zstd.WithDecoderMaxWindow(maxDict), zstd.WithDecoderConcurrency(1))
		if err == nil {
			out, err = readAll(want, d)
			d.Close()
		}
	case LZ4:
		out, err = decompressLZ4Legacy(body, want)
	default:
		return nil, c, fmt.Errorf("%w: %s", ErrUnsupportedCompression, c)
	}
	if err != nil {
		return nil, c, fmt.Errorf("decompress %s payload: %w", c, err)
	}
	if int64(len(out)) != want {
		return nil, c, fmt.Errorf("decompress %s payload: got %d bytes, the image records %d", c, len(out), want)
	}
	return out, c, nil
}

// errOverSize is returned when a payload decompresses to more than it records.
var errOverSize = errors.New("payload decompresses to more bytes than the image records")

// readAll reads r to the end into memory, failing once more than want
// bytes arrive.
func readAll(want int64, r io.Reader) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, min(want+1, 64<<20)))
	n, err := io.Copy(buf, io.LimitReader(r, want+1))
	if err != nil {
		return nil, err
	}
	if n > want {
		return nil, fmt.Errorf("%w (%d)", errOverSize, want)
	}
	return buf.Bytes(), nil
}

// decompressXZ decompresses a single-stream xz payload without filters.
// Kernel builds use the x86 BCJ filter, handled by decompressXZKernel.
func decompressXZ(body []byte, want int64) ([]byte, error) {
	out, err := decompressXZKernel(body, want)
	if err == nil || !errors.Is(err, errNotKernelXZ) {
		return out, err
	}
	if d, ok := XZDictSize(body); ok && d > maxDict {
		return nil, fmt.Errorf("xz: the payload asks for a %d-byte dictionary, more than the limit of %d", d, maxDict)
	}
	r, err := xz.ReaderConfig{SingleStream: true}.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	return readAll(want, r)
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
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	p, err := ReadPayload(f, st.Size(), h)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out, _, err := Decompress(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
