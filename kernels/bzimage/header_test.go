package bzimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// header returns a 2-sector image with a valid setup header.
func header() []byte {
	b := make([]byte, 1024)
	b[0x1f1] = 1
	b[0x1fe], b[0x1ff] = 0x55, 0xaa
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x206:], 0x020f)
	binary.LittleEndian.PutUint16(b[0x20e:], 0x100)
	b[0x211] = 1
	binary.LittleEndian.PutUint32(b[0x248:], 0x10)
	binary.LittleEndian.PutUint32(b[0x24c:], 0x20)
	copy(b[0x300:], "6.1.0-50-cloud-amd64 (builder@example.org) #1 SMP\x00junk")
	return b
}

func TestReadHeader(t *testing.T) {
	h, err := ReadHeader(bytes.NewReader(header()))
	require.NoError(t, err)
	if h.PayloadOffset != 1024+0x10 || h.PayloadLength != 0x20 || h.Protocol != 0x020f ||
		h.KernelVersion != "6.1.0-50-cloud-amd64 (builder@example.org) #1 SMP" || h.Release() != "6.1.0-50-cloud-amd64" {
		require.Fail(t, fmt.Sprintf("ReadHeader = %+v", h))
	}
}

func TestReadHeaderRejects(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func([]byte) []byte
		notBzImg bool
	}{
		{"short file", func(b []byte) []byte { return b[:0x100] }, true},
		{"no HdrS", func(b []byte) []byte { copy(b[0x202:], "ELF!"); return b }, true},
		{"no boot flag", func(b []byte) []byte { b[0x1fe] = 0; return b }, true},
		{"zImage", func(b []byte) []byte { b[0x211] = 0; return b }, true},
		{"protocol 2.07", func(b []byte) []byte { binary.LittleEndian.PutUint16(b[0x206:], 0x0207); return b }, false},
		{"empty payload", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[0x24c:], 0); return b }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ReadHeader(bytes.NewReader(tt.mutate(header())))
			require.Error(t, err, "ReadHeader = %+v, want an error", h)
			require.Equal(t, tt.notBzImg, errors.Is(err, ErrNotBzImage), "ReadHeader = %v; ErrNotBzImage %v, want %v", err, errors.Is(err, ErrNotBzImage), tt.notBzImg)
		})
	}
}
