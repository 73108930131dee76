package bzimage

import (
	"encoding/binary"
	"fmt"

	"github.com/pierrec/lz4/v4"
)

const (
	lz4LegacyMagic    = 0x184c2102
	lz4LegacyBlockMax = 8 << 20
)

// decompressLZ4Legacy decompresses an LZ4 legacy frame as the kernel build
// writes it (lz4 -l): the magic 0x184C2102, then blocks of a little-endian
// uint32 compressed size followed by an LZ4 block that decompresses to at most
// 8 MiB. The magic may repeat between blocks (concatenated frames). The frame
// has no end marker; it ends with its input.
func decompressLZ4Legacy(in []byte, want int64) ([]byte, error) {
	if len(in) < 4 || binary.LittleEndian.Uint32(in) != lz4LegacyMagic {
		return nil, fmt.Errorf("no lz4 legacy frame magic")
	}
	in = in[4:]
	out := make([]byte, 0, min(want, 64<<20))
	block := make([]byte, lz4LegacyBlockMax)
	for len(in) > 0 {
		if len(in) < 4 {
			return nil, fmt.Errorf("lz4 legacy frame: %d trailing bytes", len(in))
		}
		size := binary.LittleEndian.Uint32(in)
		in = in[4:]
		if size == lz4LegacyMagic {
			continue
		}
		if uint64(size) > uint64(len(in)) {
			return nil, fmt.Errorf("lz4 legacy frame: block of %d bytes with %d bytes left", size, len(in))
		}
		n, err := lz4.UncompressBlock(in[:size], block)
		if err != nil {
			return nil, fmt.Errorf("lz4 legacy frame: block at output offset %d: %w", len(out), err)
		}
		if int64(len(out)+n) > want {
			return nil, fmt.Errorf("%w (%d)", errOverSize, want)
		}
		out = append(out, block[:n]...)
		in = in[size:]
	}
	return out, nil
}
