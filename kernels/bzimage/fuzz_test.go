package bzimage

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels/internal/fakekernel"
)

// FuzzReadHeader checks the setup-header reader and the payload reader on
// arbitrary files: no panic, a payload only from inside the file, and a
// version string free of control characters.
func FuzzReadHeader(f *testing.F) {
	if img, err := fakekernel.Kernel("6.1.0-50-cloud-amd64 (builder@example.org) #1 SMP", "state"); err == nil {
		f.Add(img)
	}
	f.Add(fakekernel.BzImage("5.4.0\x1b[2J", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 1, 0, 0, 0}))
	f.Fuzz(func(t *testing.T, img []byte) {
		h, err := ReadHeader(bytes.NewReader(img))
		if err != nil {
			return
		}
		for _, r := range h.KernelVersion {
			require.False(t, r < 0x20, "version %q keeps control character %U", h.KernelVersion, r)
			require.NotEqual(t, 0x7f, r, "version %q keeps control character %U", h.KernelVersion, r)
		}
		p, err := ReadPayload(bytes.NewReader(img), int64(len(img)), h)
		if err != nil {
			return
		}
		require.EqualValues(t, h.PayloadLength, int64(len(p)), "payload of %d bytes from a %d-byte file, header says %d", len(p), len(img), h.PayloadLength)
		require.False(t, len(p) > len(img), "payload of %d bytes from a %d-byte file, header says %d", len(p), len(img), h.PayloadLength)
	})
}

// FuzzDecompress feeds arbitrary payloads to every decompressor: no panic,
// and never more output than the payload records.
func FuzzDecompress(f *testing.F) {
	if img, err := fakekernel.Kernel("6.1.0 (x) #1", "state"); err == nil {
		if h, err := ReadHeader(bytes.NewReader(img)); err == nil {
			if p, err := ReadPayload(bytes.NewReader(img), int64(len(img)), h); err == nil {
				f.Add(p)
			}
		}
	}
	for _, magic := range [][]byte{{0x1f, 0x8b}, []byte("BZh9"), {0xfd, '7', 'z', 'X', 'Z', 0}, {0x5d, 0, 0, 0x80, 0}, {0x02, 0x21, 0x4c, 0x18}, {0x28, 0xb5, 0x2f, 0xfd}} {
		f.Add(append(bytes.Clone(magic), 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, _, err := Decompress(payload)
		if err != nil {
			return
		}
		require.False(t, len(payload) < 4, "decompressed %d bytes from %d", len(out), len(payload))
		require.False(t, len(out) > MaxVmlinux, "decompressed %d bytes from %d", len(out), len(payload))
	})
}
