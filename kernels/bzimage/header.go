package bzimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/corematrix/corematrix/internal/termtext"
)

// ErrNotBzImage is returned for a file that is not an x86 bzImage.
var ErrNotBzImage = errors.New("not an x86 bzImage (no HdrS setup header)")

// Offsets into the real-mode boot sector and setup header.
const (
	offSetupSects    = 0x1f1
	offBootFlag      = 0x1fe
	offHeaderMagic   = 0x202
	offVersion       = 0x206
	offKernelVersion = 0x20e
	offLoadFlags     = 0x211
	offPayloadOffset = 0x248
	offPayloadLength = 0x24c
	headerEnd        = 0x250

	headerMagic = "HdrS"
)

// Limits on kernel files taken from packages and images, checked before
// they are copied. Debian's cloud kernels are about 10 MiB, their configs
// about 300 KiB.
const (
	// MaxImage bounds a bzImage file.
	MaxImage = 256 << 20
	// MaxConfig bounds a kernel config file.
	MaxConfig = 16 << 20
)

// Header is the part of the bzImage setup header this package uses.
type Header struct {
	// Protocol is the boot protocol version, e.g. 0x020f.
	Protocol uint16
	// SetupSects is the number of 512-byte setup sectors after the boot sector.
	SetupSects int
	// KernelVersion is the version string the kernel embeds in its setup
	// code, control characters removed, e.g. "6.1.0-50-cloud-amd64 (builder@example.org) #1 SMP ...".
	KernelVersion string
	// PayloadOffset is the file offset of the compressed vmlinux.
	PayloadOffset int64
	// PayloadLength is the length of the compressed vmlinux in bytes.
	PayloadLength int64
}

// Release returns the first word of KernelVersion, which is what uname -r
// prints in the booted kernel (e.g. "6.1.0-50-cloud-amd64").
func (h *Header) Release() string {
	f := bytes.Fields([]byte(h.KernelVersion))
	if len(f) == 0 {
		return ""
	}
	return string(f[0])
}

// ReadHeader parses the setup header of the bzImage read from r.
func ReadHeader(r io.ReaderAt) (*Header, error) {
	buf := make([]byte, headerEnd)
	if n, err := r.ReadAt(buf, 0); n < offHeaderMagic+4 {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: file too short", ErrNotBzImage)
		}
		return nil, err
	}
	if string(buf[offHeaderMagic:offHeaderMagic+4]) != headerMagic || buf[offBootFlag] != 0x55 || buf[offBootFlag+1] != 0xaa {
		return nil, ErrNotBzImage
	}
	h := &Header{
		Protocol:   binary.LittleEndian.Uint16(buf[offVersion:]),
		SetupSects: int(buf[offSetupSects]),
	}
	if h.SetupSects == 0 {
		h.SetupSects = 4
	}
	if h.Protocol < 0x0208 {
		return nil, fmt.Errorf("boot protocol %d.%02d is older than 2.08 and records no payload", h.Protocol>>8, h.Protocol&0xff)
	}
	if buf[offLoadFlags]&0x01 == 0 {
		return nil, fmt.Errorf("%w: a zImage loaded low, not a bzImage", ErrNotBzImage)
	}
	setupEnd := int64(h.SetupSects+1) * 512
	h.PayloadOffset = setupEnd + int64(binary.LittleEndian.Uint32(buf[offPayloadOffset:]))
	h.PayloadLength = int64(binary.LittleEndian.Uint32(buf[offPayloadLength:]))
	if h.PayloadLength < 4 {
		return nil, fmt.Errorf("payload length %d is too short", h.PayloadLength)
	}
	if kv := int64(binary.LittleEndian.Uint16(buf[offKernelVersion:])); kv != 0 {
		s := make([]byte, 256)
		n, _ := r.ReadAt(s, kv+0x200)
		s = s[:n]
		if i := bytes.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		h.KernelVersion = termtext.Line(string(s))
	}
	return h, nil
}

// ReadVersion returns the kernel version string recorded in the setup header
// of the bzImage at path.
func ReadVersion(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h, err := ReadHeader(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if h.KernelVersion == "" {
		return "", fmt.Errorf("%s: setup header holds no kernel version", path)
	}
	return h.KernelVersion, nil
}

// IsBzImage reports whether the file at path starts with a bzImage setup header.
func IsBzImage(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = ReadHeader(f)
	return err == nil
}
