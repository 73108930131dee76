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
	hsize := (int(p[0]) + 1) * 4
	if p[0] == 0 || len(p) < hsize {
		return nil, errNotKernelXZ
	}
	hdr := p[1 : hsize-4]
	if crc32.ChecksumIEEE(p[:hsize-4]) != binary.LittleEndian.Uint32(p[hsize-4:]) {
		return nil, fmt.Errorf("xz block header checksum mismatch")
	}
	flags := hdr[0]
	nfilters := int(flags&3) + 1
	r := bytes.NewReader(hdr[1:])
	if flags&0x40 != 0 {
		if _, err := binary.ReadUvarint(r); err != nil {
			return nil, errNotKernelXZ
		}
	}
	if flags&0x80 != 0 {
		if _, err := binary.ReadUvarint(r); err != nil {
			return nil, errNotKernelXZ
		}
	}
	var x86 bool
	var x86Start uint32
	var dictProp byte
	for i := range nfilters {
		id, err1 := binary.ReadUvarint(r)
		n, err2 := binary.ReadUvarint(r)
		if err1 != nil || err2 != nil || n > uint64(r.Len()) {
			return nil, errNotKernelXZ
		}
		props := make([]byte, n)
		r.Read(props)
		switch {
		case id == xzFilterX86 && i < nfilters-1 && !x86:
			x86 = true
			if n == 4 {
				x86Start = binary.LittleEndian.Uint32(props)
			} else if n != 0 {
				return nil, errNotKernelXZ
			}
		case id == xzFilterLZMA2 && i == nfilters-1 && n == 1:
			dictProp = props[0]
		default:
			return nil, errNotKernelXZ
		}
	}
	if !x86 {
		return nil, errNotKernelXZ
	}
	if dictProp > 40 {
		return nil, fmt.Errorf("xz: invalid LZMA2 dictionary property %d", dictProp)
	}
	dict := 1 << 32
	if dictProp < 40 {
		dict = (2 | int(dictProp&1)) << (dictProp/2 + 11)
	}
	if dict > maxDict {
		return nil, fmt.Errorf("xz: the payload asks for a %d-byte dictionary, more than the limit of %d", dict, maxDict)
	}
	cfg := lzma.Reader2Config{DictCap: dict}
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
	p := head[12:]
	hsize := (int(p[0]) + 1) * 4
	if p[0] == 0 || len(p) < hsize {
		return 0, false
	}
	r := bytes.NewReader(p[2 : hsize-4])
	flags := p[1]
	for _, bit := range []byte{0x40, 0x80} {
		if flags&bit != 0 {
			if _, err := binary.ReadUvarint(r); err != nil {
				return 0, false
			}
		}
	}
	for i := 0; i < int(flags&3)+1; i++ {
		id, err1 := binary.ReadUvarint(r)
		n, err2 := binary.ReadUvarint(r)
		if err1 != nil || err2 != nil || n > uint64(r.Len()) {
			return 0, false
		}
		props := make([]byte, n)
		r.Read(props)
		if id == xzFilterLZMA2 && n == 1 {
			if props[0] > 40 {
				return 0, false
			}
			if props[0] == 40 {
				return 1<<32 - 1, true
			}
			return int64(2|props[0]&1) << (props[0]/2 + 11), true
		}
	}
	return 0, false
}

// MaxDict bounds the LZMA/LZMA2 dictionary a stream may ask for; the kernel
// build and dpkg use 64 MiB at most.
const MaxDict = maxDict
