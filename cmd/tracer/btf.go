package main

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"

	"github.com/cilium/ebpf/btf"
)

// loadBTF reads kernel BTF from a raw BTF file (like /sys/kernel/btf/vmlinux
// or a btfhub file) or from the .BTF section of a vmlinux ELF. The section is
// read directly because distribution vmlinux files often lack the symbol
// table btf.LoadSpec wants.
func loadBTF(path string) (*btf.Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read BTF: %w", err)
	}
	if bytes.HasPrefix(raw, []byte(elf.ELFMAG)) {
		f, err := elf.NewFile(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("read BTF from %s: %w", path, err)
		}
		sec := f.Section(".BTF")
		if sec == nil {
			return nil, fmt.Errorf("read BTF from %s: no .BTF section", path)
		}
		if raw, err = sec.Data(); err != nil {
			return nil, fmt.Errorf("read BTF from %s: %w", path, err)
		}
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parse BTF from %s: %w", path, err)
	}
	return spec, nil
}
