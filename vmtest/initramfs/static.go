package initramfs

import (
	"debug/elf"
	"errors"
	"fmt"
)

// ErrNotStatic means an executable needs a dynamic loader (it has an ELF
// interpreter), which the guest does not have.
var ErrNotStatic = errors.New("not a static executable (it has an ELF interpreter); rebuild it with CGO_ENABLED=0")

// ErrNotELF means a file meant to run in the guest is not an ELF executable.
var ErrNotELF = errors.New("not an ELF executable (the guest has no shell or interpreter)")

// CheckStatic returns an error wrapping ErrNotStatic when the ELF file at path
// has a PT_INTERP program header, and ErrNotELF when it is not ELF at all.
func CheckStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) {
			return fmt.Errorf("%s: %w", path, ErrNotELF)
		}
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s: %w", path, ErrNotStatic)
		}
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("%s: %w", path, ErrNotELF)
	}
	return nil
}
