package fakekernel

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf/btf"
	"github.com/pierrec/lz4/v4"
)

// BTF returns raw BTF with a struct task_struct holding the named u64/u32
// members (e.g. "__state", "start_boottime").
func BTF(members ...string) ([]byte, error) {
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	u64 := &btf.Int{Name: "long long unsigned int", Size: 8}
	s := &btf.Struct{Name: "task_struct"}
	off := btf.Bits(0)
	for _, m := range members {
		typ, size := btf.Type(u64), btf.Bits(64)
		if m == "__state" {
			typ, size = u32, 64 // padded to keep later members aligned
		}
		s.Members = append(s.Members, btf.Member{Name: m, Type: typ, Offset: off})
		off += size
	}
	s.Size = uint32(off / 8)
	b, err := btf.NewBuilder([]btf.Type{s}, nil)
	if err != nil {
		return nil, err
	}
	return b.Marshal(nil, nil)
}

// ELF returns a minimal ELF64 x86-64 file with one section holding data.
func ELF(section string, data []byte) []byte {
	le := binary.LittleEndian
	shstr := "\x00" + section + "\x00.shstrtab\x00"
	dataOff := 64
	strOff := dataOff + len(data)
	shOff := (strOff + len(shstr) + 7) &^ 7
	buf := make([]byte, shOff+3*64)
	copy(buf, "\x7fELF")
	buf[4], buf[5], buf[6] = 2, 1, 1 // 64-bit, little-endian, version 1
	le.PutUint16(buf[16:], 2)        // ET_EXEC
	le.PutUint16(buf[18:], 62)       // EM_X86_64
	le.PutUint32(buf[20:], 1)
	le.PutUint64(buf[40:], uint64(shOff))
	le.PutUint16(buf[52:], 64)
	le.PutUint16(buf[58:], 64)
	le.PutUint16(buf[60:], 3)
	le.PutUint16(buf[62:], 2)
	copy(buf[dataOff:], data)
	copy(buf[strOff:], shstr)
	sh := func(i int, name, typ uint32, off, size int) {
		p := buf[shOff+i*64:]
		le.PutUint32(p[0:], name)
		le.PutUint32(p[4:], typ)
		le.PutUint64(p[24:], uint64(off))
		le.PutUint64(p[32:], uint64(size))
		le.PutUint64(p[48:], 1)
	}
	sh(1, 1, 1, dataOff, len(data))                        // PROGBITS
	sh(2, uint32(1+len(section)+1), 3, strOff, len(shstr)) // STRTAB
	return buf
}

// LZ4Legacy compresses data as an LZ4 legacy frame (lz4 -l) followed by the
// uncompressed size, as the kernel build writes bzImage payloads.
func LZ4Legacy(data []byte) ([]byte, error) {
	const block = 8 << 20
	out := binary.LittleEndian.AppendUint32(nil, 0x184c2102)
	buf := make([]byte, lz4.CompressBlockBound(block))
	for rest := data; len(rest) > 0; {
		n := min(block, len(rest))
		var c lz4.Compressor
		m, err := c.CompressBlock(rest[:n], buf)
		if err != nil {
			return nil, err
		}
		if m == 0 {
			return nil, fmt.Errorf("lz4: incompressible block")
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(m))
		out = append(out, buf[:m]...)
		rest = rest[n:]
	}
	return binary.LittleEndian.AppendUint32(out, uint32(len(data))), nil
}

// BzImage wraps payload (already compressed, with its size trailer) in a
// setup header whose kernel version string is kernelVersion.
func BzImage(kernelVersion string, payload []byte) []byte {
	le := binary.LittleEndian
	const setupSects = 1
	setupEnd := (setupSects + 1) * 512
	buf := make([]byte, setupEnd, setupEnd+len(payload))
	buf[0x1f1] = setupSects
	buf[0x1fe], buf[0x1ff] = 0x55, 0xaa
	copy(buf[0x202:], "HdrS")
	le.PutUint16(buf[0x206:], 0x020f)
	le.PutUint16(buf[0x20e:], 0x300-0x200)
	buf[0x211] = 0x01 // LOADED_HIGH
	le.PutUint32(buf[0x248:], 0)
	le.PutUint32(buf[0x24c:], uint32(len(payload)))
	copy(buf[0x300:setupEnd-1], kernelVersion)
	return append(buf, payload...)
}

// Kernel returns a bzImage with kernelVersion whose BTF task_struct has the
// given members; with no members the ELF has no .BTF section.
func Kernel(kernelVersion string, members ...string) ([]byte, error) {
	return KernelWithConfig(kernelVersion, nil, members...)
}

// KernelWithConfig is Kernel with config embedded as CONFIG_IKCONFIG does
// (gzip data between the markers IKCFG_ST and IKCFG_ED), unless nil.
func KernelWithConfig(kernelVersion string, config []byte, members ...string) ([]byte, error) {
	var elf []byte
	if len(members) == 0 {
		elf = ELF(".text", make([]byte, 4096))
	} else {
		raw, err := BTF(members...)
		if err != nil {
			return nil, err
		}
		elf = ELF(".BTF", raw)
	}
	if config != nil {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(config)
		zw.Close()
		elf = append(append(append(elf, "IKCFG_ST"...), gz.Bytes()...), "IKCFG_ED"...)
	}
	p, err := LZ4Legacy(elf)
	if err != nil {
		return nil, err
	}
	return BzImage(kernelVersion, p), nil
}
