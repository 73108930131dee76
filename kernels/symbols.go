package kernels

import (
	"errors"
	"fmt"

	"github.com/corematrix/corematrix/kernels/bzimage"
	"github.com/corematrix/corematrix/kernels/kallsyms"
)

// ErrNoConfig is returned by ImageConfig for an image built without
// CONFIG_IKCONFIG.
var ErrNoConfig = errors.New("kernel image carries no config (needs CONFIG_IKCONFIG)")

// ImageFuncs returns the functions of the kernel in the bzImage at path, as
// kallsyms.Funcs.MarshalText writes them: every function symbol of its
// kallsyms (Requires CONFIG_KALLSYMS) and whether ftrace can trace it (its
// __mcount_loc records), read without booting.
func ImageFuncs(path string) ([]byte, error) {
	vmlinux, err := bzimage.Vmlinux(path)
	if err != nil {
		return nil, fmt.Errorf("kallsyms: %w", err)
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
	vmlinux, err := bzimage.Vmlinux(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg := ikconfig(vmlinux)
	if cfg == nil {
		return nil, fmt.Errorf("config of %s: %w", path, ErrNoConfig)
	}
	return cfg, nil
}
