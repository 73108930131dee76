package kernels

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"

	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/kernels/armimage"
	"github.com/corematrix/corematrix/kernels/bzimage"
)

// ErrNoBTF is returned by LoadBTF for a kernel built without
// CONFIG_DEBUG_INFO_BTF (Requires kernel 5.2 built with BTF).
var ErrNoBTF = errors.New("kernel has no BTF (.BTF section missing; needs CONFIG_DEBUG_INFO_BTF=y)")

// ErrNotBzImage is returned for a file that is not an x86 bzImage.
var ErrNotBzImage = bzimage.ErrNotBzImage

// ErrNotKernelImage is returned for a file that is neither an x86 bzImage
// nor an arm64 Image.
var ErrNotKernelImage = errors.New("not a kernel image (neither an x86 bzImage nor an arm64 Image)")

// Architectures of kernel images, named as Go and Debian name them.
const (
	ArchAMD64 = "amd64"
	ArchARM64 = "arm64"
)

// ImageArch returns the architecture of the kernel image at path: amd64 for
// an x86 bzImage, arm64 for an arm64 Image (raw or gzip-compressed).
func ImageArch(path string) (string, error) {
	switch {
	case bzimage.IsBzImage(path):
		return ArchAMD64, nil
	case armimage.IsImage(path):
		return ArchARM64, nil
	}
	return "", fmt.Errorf("%s: %w", path, ErrNotKernelImage)
}

// IsImage reports whether the file at path is a kernel image corematrix
// boots: an x86 bzImage or an arm64 Image.
func IsImage(path string) bool {
	_, err := ImageArch(path)
	return err == nil
}

// kernelBytes returns what BTF, config and version are read from: the
// decompressed vmlinux ELF of a bzImage, the decompressed arm64 Image.
func kernelBytes(path string) (data []byte, arch string, err error) {
	if arch, err = ImageArch(path); err != nil {
		return nil, "", err
	}
	if arch == ArchARM64 {
		data, err = armimage.Load(path)
	} else {
		data, err = bzimage.Vmlinux(path)
	}
	return data, arch, err
}

// LoadBTF returns the BTF of the kernel image at path without booting it.
// For a bzImage it decompresses the payload (gzip, bzip2, lzma, xz, lz4 or
// zstd) and reads the `.BTF` section of the vmlinux ELF inside: Debian's
// vmlinux has no symbol table, so btf.LoadSpec cannot open it. An arm64
// Image is not ELF: its BTF blob is found by its header (armimage.RawBTF).
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

// RawBTF returns the raw BTF of the kernel image at path (a bzImage's
// `.BTF` section, an arm64 Image's BTF blob).
func RawBTF(path string) ([]byte, error) {
	data, arch, err := kernelBytes(path)
	if err != nil {
		return nil, fmt.Errorf("load btf: %w", err)
	}
	raw, err := rawBTF(data, arch)
	if err != nil {
		return nil, fmt.Errorf("load btf of %s: %w", path, err)
	}
	return raw, nil
}

// rawBTF returns the BTF of a kernel's bytes (kernelBytes).
func rawBTF(data []byte, arch string) ([]byte, error) {
	if arch == ArchARM64 {
		raw, err := armimage.RawBTF(data)
		if errors.Is(err, armimage.ErrNoBTF) {
			return nil, fmt.Errorf("%w: %w", ErrNoBTF, err)
		}
		return raw, err
	}
	return btfSection(data)
}

// validBTF checks that a kernel's bytes (kernelBytes) hold BTF that parses,
// as LoadBTF needs it.
func validBTF(data []byte, arch string) error {
	raw, err := rawBTF(data, arch)
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

// ReadVersion returns the kernel version string of the kernel image at path:
// from a bzImage's setup header, e.g. "6.1.0-50-cloud-amd64
// (builder@example.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2025-...)";
// from an arm64 Image's "Linux version" banner, e.g. "6.1.0-50-cloud-arm64
// (debian-kernel@lists.debian.org) (gcc-12 ...) #1 SMP Debian 6.1.176-1".
// Either way the first word is the release (uname -r).
func ReadVersion(path string) (string, error) {
	if bzimage.IsBzImage(path) {
		return bzimage.ReadVersion(path)
	}
	img, err := armimage.Load(path)
	if err != nil {
		return "", err
	}
	v, err := armimage.Version(img)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// IsBzImage reports whether the file at path is an x86 bzImage.
func IsBzImage(path string) bool {
	return bzimage.IsBzImage(path)
}
