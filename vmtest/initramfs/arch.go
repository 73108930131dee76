package initramfs

import (
	"debug/elf"
	"errors"
	"fmt"
)

// ErrUnknownMachine means an executable is built for a machine vmtest does
// not boot.
var ErrUnknownMachine = errors.New("built for a machine vmtest does not boot")

// machines maps ELF machines to the architecture names Go and Debian use.
var machines = map[elf.Machine]string{
	elf.EM_X86_64:  "amd64",
	elf.EM_AARCH64: "arm64",
}

// Arch returns the architecture ("amd64", "arm64") the ELF executable at
// path is built for.
func Arch(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) {
			return "", fmt.Errorf("%s: %w", path, ErrNotELF)
		}
		return "", fmt.Errorf("check %s: %w", path, err)
	}
	defer f.Close()
	a, ok := machines[f.Machine]
	if !ok {
		return "", fmt.Errorf("%s: %v: %w", path, f.Machine, ErrUnknownMachine)
	}
	return a, nil
}
