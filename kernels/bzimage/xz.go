package bzimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/ulikunitz/xz/lzma"
)

// errNotKernelXZ means the xz stream is not the single-block LZMA2 (+ x86
// BCJ) layout the kernel build writes; the general xz reader handles it.
var errNotKernelXZ = errors.New("not a kernel xz stream")

const (
	xzFilterX86   = 0x04
	xzFilterLZMA2 = 0x21
	xzCheckNone   = 0x00
	xzCheckCRC32  = 0x01
)

// decompressXZKernel decompresses the first block of an xz stream written by
// the kernel's scripts/xz_wrap.sh: one block, filters [x86 BCJ,] LZMA2, CRC32
// check. The general-purpose xz reader does not implement BCJ filters, so the
// block is decoded here with an LZMA2 reader and the x86 filter undone in place.
func decompressXZKernel(in []byte, want int64) ([]byte, error) {
	if len(in) < 12+1 {
		return nil, errNotKernelXZ
	}
	check := in[7] & 0x0f
	if check != xzCheckNone && check != xzCheckCRC32 {
		return nil, errNotKernelXZ
	}
	p := in[12:]
	hsize, filters, ok := xzBlockHeader(p)
	if !ok {
		return nil, errNotKernelXZ
	}
	if crc32.ChecksumIEEE(p[:hsize-4]) != binary.LittleEndian.Uint32(p[hsize-4:]) {
		return nil, fmt.Errorf("xz block header checksum mismatch")
	}
	x86Start, dictProp, err := kernelFilters(filters)
	if err != nil {
		return nil, err
	}
	dict, ok := lzma2DictSize(dictProp)
	if !ok {
		return nil, fmt.Errorf("xz: invalid LZMA2 dictionary property %d", dictProp)
	}
	if dict > maxDict {
		return nil, fmt.Errorf("xz: the payload asks for a %d-byte dictionary, more than the limit of %d", dict, maxDict)
	}
	cfg := lzma.Reader2Config{DictCap: int(dict)}
	lr, err := cfg.NewReader2(bytes.NewReader(p[hsize:]))
	if err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	out, err := readAll(want, lr)
	if err != nil {
		return nil, fmt.Errorf("xz lzma2: %w", err)
	}
	// The block's CRC32 check follows the compressed data, whose length the
	// LZMA2 reader does not report; the size trailer verifies the result.
	unBCJX86(out, x86Start)
	return out, nil
}

// xzFilter is one filter of an xz block: its ID and its properties.
type xzFilter struct {
	id    uint64
	props []byte
}

// xzBlockHeader reads the block header at the start of p (the first block
// follows the 12-byte stream header): its size in bytes, CRC32 included,
// and its filters. ok is false when p does not hold a whole, well-formed
// header; the CRC32 is not checked.
func xzBlockHeader(p []byte) (size int, filters []xzFilter, ok bool) {
	if len(p) == 0 || p[0] == 0 {
		return 0, nil, false
	}
	size = (int(p[0]) + 1) * 4
	if len(p) < size {
		return 0, nil, false
	}
	flags := p[1]
	r := bytes.NewReader(p[2 : size-4])
	for _, bit := range []byte{0x40, 0x80} { // compressed, uncompressed size
		if flags&bit != 0 {
			if _, err := binary.ReadUvarint(r); err != nil {
				return 0, nil, false
			}
		}
	}
	for range int(flags&3) + 1 {
		id, err1 := binary.ReadUvarint(r)
		n, err2 := binary.ReadUvarint(r)
		if err1 != nil || err2 != nil || n > uint64(r.Len()) {
			return 0, nil, false
		}
		props := make([]byte, n)
		r.Read(props)
		filters = append(filters, xzFilter{id, props})
	}
	return size, filters, true
}

// kernelFilters checks that filters are the kernel build's, x86 BCJ then
// LZMA2, and returns the BCJ start offset and the LZMA2 dictionary property.
func kernelFilters(filters []xzFilter) (x86Start uint32, dictProp byte, err error) {
	if len(filters) != 2 || filters[0].id != xzFilterX86 || filters[1].id != xzFilterLZMA2 || len(filters[1].props) != 1 {
		return 0, 0, errNotKernelXZ
	}
	switch x86 := filters[0].props; len(x86) {
	case 0:
	case 4:
		x86Start = binary.LittleEndian.Uint32(x86)
	default:
		return 0, 0, errNotKernelXZ
	}
	return x86Start, filters[1].props[0], nil
}

// lzma2DictSize returns the dictionary size an LZMA2 dictionary property
// stands for; ok is false for an invalid one (above 40).
func lzma2DictSize(prop byte) (int64, bool) {
	switch {
	case prop > 40:
		return 0, false
	case prop == 40:
		return 1<<32 - 1, true
	}
	return int64(2|prop&1) << (prop/2 + 11), true
}

// unBCJX86 undoes the xz x86 branch/call/jump filter in place, processing the
// whole buffer as one chunk that starts at stream position start. It follows
// xz-embedded's bcj_x86.
func unBCJX86(buf []byte, start uint32) {
	maskToAllowed := [8]bool{true, true, true, false, true, false, false, false}
	maskToBitNum := [8]uint32{0, 1, 2, 2, 3, 3, 3, 3}
	msb := func(b byte) bool { return b == 0x00 || b == 0xff }
	if len(buf) <= 4 {
		return
	}
	size := len(buf) - 4
	prevPos := -1
	var prevMask uint32
	for i := 0; i < size; i++ {
		if buf[i]&0xfe != 0xe8 {
			continue
		}
		d := i - prevPos
		if d > 3 {
			prevMask = 0
		} else {
			prevMask = (prevMask << (d - 1)) & 7
			if prevMask != 0 {
				b := buf[i+4-int(maskToBitNum[prevMask])]
				if !maskToAllowed[prevMask] || msb(b) {
					prevPos = i
					prevMask = prevMask<<1 | 1
					continue
				}
			}
		}
		prevPos = i
		if !msb(buf[i+4]) {
			prevMask = prevMask<<1 | 1
			continue
		}
		src := binary.LittleEndian.Uint32(buf[i+1:])
		var dest uint32
		for {
			dest = src - (start + uint32(i) + 5)
			if prevMask == 0 {
				break
			}
			j := maskToBitNum[prevMask] * 8
			if !msb(byte(dest >> (24 - j))) {
				break
			}
			src = dest ^ (1<<(32-j) - 1)
		}
		dest &= 0x01ffffff
		dest |= 0 - (dest & 0x01000000)
		binary.LittleEndian.PutUint32(buf[i+1:], dest)
		i += 4
	}
}

// XZDictSize returns the LZMA2 dictionary size the first block of the xz
// stream starting in head asks for, so that a caller can refuse a huge one
// before a decoder allocates it. ok is false when head does not show it
// (too short, or not an xz stream with an LZMA2 block).
func XZDictSize(head []byte) (size int64, ok bool) {
	if len(head) < 13 || string(head[:6]) != "\xfd7zXZ\x00" {
		return 0, false
	}
	_, filters, ok := xzBlockHeader(head[12:])
	if !ok {
		return 0, false
	}
	for _, f := range filters {
		if f.id == xzFilterLZMA2 && len(f.props) == 1 {
			return lzma2DictSize(f.props[0])
		}
	}
	return 0, false
}

// MaxDict bounds the LZMA/LZMA2 dictionary a stream may ask for; the kernel
// build and dpkg use 64 MiB at most.
const MaxDict = maxDict
