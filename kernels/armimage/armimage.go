package armimage

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/cilium/ebpf/btf"
)

// Errors callers can test for.
var (
	// ErrNotImage means a file is neither an arm64 Image nor a gzip stream
	// holding one.
	ErrNotImage = errors.New("not an arm64 kernel Image (no \"ARM\\x64\" magic at offset 56)")
	// ErrNoBTF means the image holds no BTF blob that parses (a kernel
	// built without CONFIG_DEBUG_INFO_BTF).
	ErrNoBTF = errors.New("kernel has no BTF (no BTF blob found in the image; needs CONFIG_DEBUG_INFO_BTF=y)")
	// ErrNoVersion means the image holds no "Linux version" banner.
	ErrNoVersion = errors.New("no Linux version banner in the image")
	// ErrTooLarge means a file or its decompressed image exceeds a limit.
	ErrTooLarge = errors.New("arm64 image exceeds the size limit")
)

// Limits, checked before anything is allocated. Variables only so tests
// can lower them.
var (
	// MaxFile bounds an image file (compressed or not).
	MaxFile int64 = 256 << 20
	// MaxImage bounds a decompressed Image.
	MaxImage int64 = 512 << 20
)

// Header is the arm64 Image header (64 bytes at the start of the image).
type Header struct {
	Code0, Code1 uint32
	TextOffset   uint64
	ImageSize    uint64
	Flags        uint64
	Res2         uint64
	Res3         uint64
	Res4         uint64
	Magic        uint32
	Res5         uint32
}

// Magic is the header's magic number, "ARM\x64" little-endian.
const Magic = 0x644d5241

// HeaderSize is the size of Header.
const HeaderSize = 64

// ParseHeader decodes the header at the start of p.
func ParseHeader(p []byte) (*Header, error) {
	if len(p) < HeaderSize {
		return nil, ErrNotImage
	}
	var h Header
	if err := binary.Read(bytes.NewReader(p[:HeaderSize]), binary.LittleEndian, &h); err != nil {
		return nil, ErrNotImage
	}
	if h.Magic != Magic {
		return nil, ErrNotImage
	}
	// Flags bit 0 is the kernel's endianness: 1 is big-endian, which
	// nothing here reads.
	if h.Flags&1 != 0 {
		return nil, fmt.Errorf("big-endian arm64 image: %w", ErrNotImage)
	}
	return &h, nil
}

// isGzip reports whether p starts a gzip stream.
func isGzip(p []byte) bool { return len(p) >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8 }

// IsImage reports whether the file at path is an arm64 Image, raw or
// gzip-compressed. It reads at most the first kilobytes of the image.
func IsImage(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, HeaderSize)
	if _, err := io.ReadFull(f, head); err != nil {
		return false
	}
	if isGzip(head) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return false
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			return false
		}
		if _, err := io.ReadFull(zr, head); err != nil {
			return false
		}
	}
	_, err = ParseHeader(head)
	return err == nil
}

// Load returns the decompressed Image of the file at path (the file itself
// when it is a raw Image), at most MaxImage bytes.
func Load(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxFile {
		return nil, fmt.Errorf("%s: %d bytes, more than %d: %w", path, st.Size(), MaxFile, ErrTooLarge)
	}
	raw, err := io.ReadAll(io.LimitReader(f, MaxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	img, err := Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// Decode returns the Image in p: p itself when it is a raw Image, the
// decompressed stream when p is gzip (at most MaxImage bytes).
func Decode(p []byte) ([]byte, error) {
	if isGzip(p) {
		zr, err := gzip.NewReader(bytes.NewReader(p))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		zr.Multistream(false)
		out, err := io.ReadAll(io.LimitReader(zr, MaxImage+1))
		if err != nil {
			return nil, fmt.Errorf("gunzip image: %w", err)
		}
		if int64(len(out)) > MaxImage {
			return nil, fmt.Errorf("decompressed image over %d bytes: %w", MaxImage, ErrTooLarge)
		}
		p = out
	}
	if _, err := ParseHeader(p); err != nil {
		return nil, err
	}
	return p, nil
}

// banner is the start of the kernel's linux_banner.
var banner = []byte("Linux version ")

// Version returns the kernel's version banner without its "Linux version "
// prefix, e.g. "6.1.0-50-cloud-arm64 (debian-kernel@lists.debian.org)
// (gcc-12 ...) #1 SMP Debian 6.1.176-1 (2025-...)": the first occurrence
// followed by a digit and printable text up to a newline (format strings
// such as "Linux version %s" do not qualify).
func Version(img []byte) (string, error) {
	rest := img
	for {
		i := bytes.Index(rest, banner)
		if i < 0 {
			return "", ErrNoVersion
		}
		rest = rest[i+len(banner):]
		if len(rest) == 0 || rest[0] < '0' || rest[0] > '9' {
			continue
		}
		end := bytes.IndexByte(rest[:min(len(rest), 512)], '\n')
		if end < 0 {
			continue
		}
		line := rest[:end]
		if printable(line) {
			return string(line), nil
		}
	}
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// btfHeader is struct btf_header (include/uapi/linux/btf.h).
type btfHeader struct {
	Magic   uint16
	Version uint8
	Flags   uint8
	HdrLen  uint32
	TypeOff uint32
	TypeLen uint32
	StrOff  uint32
	StrLen  uint32
}

// btfMagic starts a little-endian BTF blob: magic 0xEB9F, version 1.
var btfMagic = []byte{0x9f, 0xeb, 0x01}

// candidate is a plausible BTF blob in an image.
type candidate struct{ off, size int }

// RawBTF returns the kernel's BTF blob in img (a decompressed Image): every
// place that starts with the BTF magic is checked as a header (version 1,
// no flags, a 24-byte header, type and string sections inside the image,
// the string section starting and ending with a NUL), and the largest that
// cilium/ebpf then parses as BTF is the kernel's. ErrNoBTF when none does.
func RawBTF(img []byte) ([]byte, error) {
	var cands []candidate
	for off := 0; ; {
		i := bytes.Index(img[off:], btfMagic)
		if i < 0 {
			break
		}
		at := off + i
		off = at + 1
		if size, ok := plausible(img[at:]); ok {
			cands = append(cands, candidate{at, size})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].size > cands[j].size })
	for _, c := range cands {
		raw := img[c.off : c.off+c.size]
		if _, err := btf.LoadSpecFromReader(bytes.NewReader(raw)); err == nil {
			return raw, nil
		}
	}
	return nil, ErrNoBTF
}

// minBTF is the least a kernel's BTF holds: thousands of types.
const minBTF = 4 << 10

// plausible checks the BTF header at the start of p and returns the blob's
// size.
func plausible(p []byte) (int, bool) {
	if len(p) < 24 {
		return 0, false
	}
	var h btfHeader
	if err := binary.Read(bytes.NewReader(p[:24]), binary.LittleEndian, &h); err != nil {
		return 0, false
	}
	if h.Version != 1 || h.Flags != 0 || h.HdrLen != 24 {
		return 0, false
	}
	types := uint64(h.HdrLen) + uint64(h.TypeOff)
	strs := uint64(h.HdrLen) + uint64(h.StrOff)
	typesEnd, strsEnd := types+uint64(h.TypeLen), strs+uint64(h.StrLen)
	end := max(typesEnd, strsEnd)
	if h.StrLen == 0 || end > uint64(len(p)) || end < minBTF {
		return 0, false
	}
	// The sections must not overlap.
	if types < strs && typesEnd > strs || strs < types && strsEnd > types {
		return 0, false
	}
	if p[strs] != 0 || p[strsEnd-1] != 0 {
		return 0, false
	}
	return int(end), true
}
