package tinyelf

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// Base is the address the whole file is mapped at.
const Base = 0x400000

// Align returns the segment alignment for machine: the largest page size
// its kernels use (arm64 kernels may use 64 KiB pages).
func Align(machine elf.Machine) uint64 {
	if machine == elf.EM_AARCH64 {
		return 0x10000
	}
	return 0x1000
}

// headersSize is the size of the ELF header and the one program header.
var headersSize = binary.Size(elf.Header64{}) + binary.Size(elf.Prog64{})

// Executable returns a static little-endian 64-bit executable for machine
// (elf.EM_X86_64, elf.EM_AARCH64) whose code is text: one PT_LOAD segment
// maps the whole file read+execute at Base, aligned to the machine's largest
// page size (Align), and the entry point is text's first byte, right after
// the headers.
func Executable(machine elf.Machine, text []byte) []byte {
	size := uint64(headersSize + len(text))
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Entry: Base + uint64(headersSize), Phoff: uint64(binary.Size(elf.Header64{})),
		Ehsize: uint16(binary.Size(elf.Header64{})), Phentsize: uint16(binary.Size(elf.Prog64{})), Phnum: 1,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	p := elf.Prog64{
		Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X),
		Vaddr: Base, Paddr: Base, Filesz: size, Memsz: size, Align: Align(machine),
	}
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, h)
	_ = binary.Write(&b, binary.LittleEndian, p)
	b.Write(text)
	return b.Bytes()
}
