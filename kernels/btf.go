package kernels

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"

	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/kernels/bzimage"
)

// ErrNoBTF is returned by LoadBTF for a kernel built without
// CONFIG_DEBUG_INFO_BTF (Requires kernel 5.2 built with BTF).
var ErrNoBTF = errors.New("kernel has no BTF (.BTF section missing; needs CONFIG_DEBUG_INFO_BTF=y)")

// ErrNotBzImage is returned for a file that is not an x86 bzImage.
var ErrNotBzImage = bzimage.ErrNotBzImage

// LoadBTF returns the BTF of the kernel in the bzImage at path without
// booting it: it decompresses the payload (gzip, bzip2, lzma, xz, lz4 or zstd)
// and reads the `.BTF` section of the vmlinux ELF inside.
//
// Debian's vmlinux has no symbol table, so btf.LoadSpec cannot open it;
// LoadBTF reads the section directly.
func LoadBTF(path string) (*btf.Spec, error) {
	raw, err := RawBTF(path)
	if err != nil {
		return nil, err
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("load btf of %s: %w", path, err)
	}
	return spec, nil
}

// RawBTF returns the raw `.BTF` section of the kernel in the bzImage at path.
func RawBTF(path string) ([]byte, error) {
	vmlinux, err := bzimage.Vmlinux(path)
	if err != nil {
		return nil, fmt.Errorf("load btf: %w", err)
	}
	raw, err := btfSection(vmlinux)
	if err != nil {
		return nil, fmt.Errorf("load btf of %s: %w", path, err)
	}
	return raw, nil
}

// validBTF checks that vmlinux has a .BTF section that parses, as LoadBTF
// needs it.
func validBTF(vmlinux []byte) error {
	raw, err := btfSection(vmlinux)
	if err != nil {
		return err
	}
	if _, err := btf.LoadSpecFromReader(bytes.NewReader(raw)); err != nil {
		return fmt.Errorf("corrupt .BTF section: %w", err)
	}
	return nil
}

// btfSection returns the .BTF section of a vmlinux ELF.
func btfSection(vmlinux []byte) ([]byte, error) {
	f, err := elf.NewFile(bytes.NewReader(vmlinux))
	if err != nil {
		return nil, fmt.Errorf("payload is not an ELF: %w", err)
	}
	sec := f.Section(".BTF")
	if sec == nil {
		return nil, ErrNoBTF
	}
	raw, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .BTF: %w", err)
	}
	return raw, nil
}

// ReadVersion returns the kernel version string from the setup header of the
// bzImage at path, e.g. "6.1.0-50-cloud-amd64 (builder@example.org)
// #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2025-...)".
func ReadVersion(path string) (string, error) {
	return bzimage.ReadVersion(path)
}

// IsBzImage reports whether the file at path is an x86 bzImage.
func IsBzImage(path string) bool {
	return bzimage.IsBzImage(path)
}
