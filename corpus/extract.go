package corpus

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"path"
)

// Bounds on what is read from a package.
var (
	// MaxFile bounds a file scanned for objects.
	MaxFile int64 = 64 << 20
	// MaxObject bounds one object.
	MaxObject int64 = 16 << 20
	// MaxObjects bounds the objects taken from one package.
	MaxObjects = 1000
)

// Object is a BPF ELF object found in a package's file.
type Object struct {
	// Name is the file name the object is written as.
	Name string
	Data []byte
}

var elfMagic = []byte("\x7fELF")

// Objects returns the BPF objects in the file named name with content
// data: data itself when it is one (a .o), else every BPF ELF object
// embedded in it (libbpf skeletons), named after the file (NAME.bpf.o,
// NAME-2.bpf.o, ...). An embedded object is a 64-bit ELF header of machine
// EM_BPF; it ends where its section header table ends, and it must parse as
// ELF.
func Objects(name string, data []byte) ([]Object, error) {
	base := path.Base(name)
	if size, ok := bpfELF(data); ok && int64(size) == int64(len(data)) {
		return []Object{{Name: base, Data: data}}, nil
	}
	var out []Object
	for off := 0; off < len(data); {
		i := bytes.Index(data[off:], elfMagic)
		if i < 0 {
			break
		}
		start := off + i
		size, ok := bpfELF(data[start:])
		if !ok {
			off = start + 1
			continue
		}
		obj := data[start : start+size]
		if _, err := elf.NewFile(bytes.NewReader(obj)); err != nil {
			return nil, fmt.Errorf("%s: object at offset %d: %w", name, start, err)
		}
		n := base + ".bpf.o"
		if len(out) > 0 {
			n = fmt.Sprintf("%s-%d.bpf.o", base, len(out)+1)
		}
		out = append(out, Object{Name: n, Data: obj})
		off = start + size
	}
	return out, nil
}

// bpfELF reports whether b starts with the header of a 64-bit EM_BPF ELF
// object that fits in b and MaxObject, and its size (the end of its
// section header table).
func bpfELF(b []byte) (int, bool) {
	if len(b) < 64 || !bytes.Equal(b[:4], elfMagic) || b[elf.EI_CLASS] != byte(elf.ELFCLASS64) {
		return 0, false
	}
	var bo binary.ByteOrder
	switch elf.Data(b[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return 0, false
	}
	if elf.Machine(bo.Uint16(b[18:])) != elf.EM_BPF || bo.Uint16(b[58:]) != 64 {
		return 0, false
	}
	shoff, shnum := bo.Uint64(b[40:]), uint64(bo.Uint16(b[60:]))
	if shoff < 64 || shnum == 0 || shoff > uint64(MaxObject) {
		return 0, false
	}
	end := shoff + shnum*64
	if end > uint64(MaxObject) || end > uint64(len(b)) {
		return 0, false
	}
	return int(end), true
}
