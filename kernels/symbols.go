package kernels

import (
	"errors"
	"fmt"

	"github.com/corematrix/corematrix/kernels/kallsyms"
)

// ErrNoConfig is returned by ImageConfig for an image built without
// CONFIG_IKCONFIG.
var ErrNoConfig = errors.New("kernel image carries no config (needs CONFIG_IKCONFIG)")

// ErrNoKallsyms is returned by ImageFuncs for an image whose kallsyms it
// does not read: x86-64 bzImages and arm64 Images are read.
var ErrNoKallsyms = errors.New("kallsyms are read from x86-64 and arm64 images only")

// ImageFuncs returns the functions of the kernel in the bzImage or arm64
// Image at path, as kallsyms.Funcs.MarshalText writes them: every function
// symbol of its kallsyms (Requires CONFIG_KALLSYMS), whether ftrace can
// trace it (its __mcount_loc records) and the functions of its system call
// table, read without booting.
func ImageFuncs(path string) ([]byte, error) {
	data, arch, err := kernelBytes(path)
	if err != nil {
		return nil, fmt.Errorf("kallsyms: %w", err)
	}
	var fs *kallsyms.Funcs
	switch arch {
	case ArchAMD64:
		fs, err = kallsyms.ImageFuncs(data)
	case ArchARM64:
		var im *kallsyms.ARM64Image
		if im, err = kallsyms.NewARM64Image(data); err == nil {
			fs = im.Funcs()
		}
	default:
		return nil, fmt.Errorf("kallsyms of %s (%s): %w", path, arch, ErrNoKallsyms)
	}
	if err != nil {
		return nil, fmt.Errorf("kallsyms of %s: %w", path, err)
	}
	return fs.MarshalText()
}

// ImageConfig returns the kernel config embedded in the bzImage at path
// (CONFIG_IKCONFIG), or ErrNoConfig.
func ImageConfig(path string) ([]byte, error) {
	vmlinux, _, err := kernelBytes(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg := ikconfig(vmlinux)
	if cfg == nil {
		return nil, fmt.Errorf("config of %s: %w", path, ErrNoConfig)
	}
	return cfg, nil
}
