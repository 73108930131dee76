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
// does not read: only x86-64 vmlinux ELF images are read so far.
var ErrNoKallsyms = errors.New("kallsyms are read from x86-64 images only")

// ImageFuncs returns the functions of the kernel in the bzImage at path, as
// kallsyms.Funcs.MarshalText writes them: every function symbol of its
// kallsyms (Requires CONFIG_KALLSYMS) and whether ftrace can trace it (its
// __mcount_loc records), read without booting.
func ImageFuncs(path string) ([]byte, error) {
	vmlinux, arch, err := kernelBytes(path)
	if err != nil {
		return nil, fmt.Errorf("kallsyms: %w", err)
	}
	if arch != ArchAMD64 {
		return nil, fmt.Errorf("kallsyms of %s (%s): %w", path, arch, ErrNoKallsyms)
	}
	fs, err := kallsyms.ImageFuncs(vmlinux)
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
