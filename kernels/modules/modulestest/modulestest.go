// Package modulestest makes fake kernel modules for tests of the packages
// that read modules trees (modules, oci, kernels). It imports only the
// standard library.
package modulestest

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// Fake returns a minimal x86-64 ELF64 relocatable file whose .modinfo
// section holds the given key=value strings (name=fuse, depends=, alias=...):
// what package modules reads of a kernel module.
func Fake(info ...string) []byte {
	modinfo := []byte(strings.Join(info, "\x00") + "\x00")
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	dataOff := ehsize
	shstrOff := dataOff + len(modinfo)
	shoff := shstrOff + len(shstr)
	shoff += (8 - shoff%8) % 8
	var b bytes.Buffer
	le := binary.LittleEndian
	ident := [16]byte{0x7f, 'E', 'L', 'F', 2, 1, 1}
	b.Write(ident[:])
	binary.Write(&b, le, uint16(1))  // ET_REL
	binary.Write(&b, le, uint16(62)) // x86-64
	binary.Write(&b, le, uint32(1))  // version
	binary.Write(&b, le, uint64(0))  // entry
	binary.Write(&b, le, uint64(0))  // phoff
	binary.Write(&b, le, uint64(shoff))
	binary.Write(&b, le, uint32(0)) // flags
	binary.Write(&b, le, uint16(ehsize))
	binary.Write(&b, le, uint16(0)) // phentsize
	binary.Write(&b, le, uint16(0)) // phnum
	binary.Write(&b, le, uint16(shentsize))
	binary.Write(&b, le, uint16(3)) // shnum
	binary.Write(&b, le, uint16(2)) // shstrndx
	b.Write(modinfo)
	b.Write(shstr)
	for b.Len() < shoff {
		b.WriteByte(0)
	}
	sh := func(name, typ uint32, off, size int) {
		binary.Write(&b, le, name)
		binary.Write(&b, le, typ)
		binary.Write(&b, le, uint64(0)) // flags
		binary.Write(&b, le, uint64(0)) // addr
		binary.Write(&b, le, uint64(off))
		binary.Write(&b, le, uint64(size))
		binary.Write(&b, le, uint32(0)) // link
		binary.Write(&b, le, uint32(0)) // info
		binary.Write(&b, le, uint64(1)) // align
		binary.Write(&b, le, uint64(0)) // entsize
	}
	sh(0, 0, 0, 0)
	sh(1, 1, dataOff, len(modinfo)) // .modinfo, PROGBITS
	sh(10, 3, shstrOff, len(shstr)) // .shstrtab, STRTAB
	return b.Bytes()
}
