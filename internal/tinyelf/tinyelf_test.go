package tinyelf

import (
	"bytes"
	"debug/elf"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An executable is what debug/elf reads as a static executable of the
// machine asked for, whose one segment maps the whole file and whose entry
// is the text.
func TestExecutable(t *testing.T) {
	text := []byte{0x0f, 0x05, 0xeb, 0xfe} // syscall; jmp .
	for _, m := range []elf.Machine{elf.EM_X86_64, elf.EM_AARCH64} {
		b := Executable(m, text)
		f, err := elf.NewFile(bytes.NewReader(b))
		require.NoError(t, err, m)
		assert.Equal(t, elf.ET_EXEC, f.Type, m)
		assert.Equal(t, m, f.Machine)
		assert.Equal(t, elf.ELFCLASS64, f.Class, m)
		require.Len(t, f.Progs, 1, m)
		p := f.Progs[0]
		assert.Equal(t, elf.PT_LOAD, p.Type, m)
		assert.Equal(t, elf.PF_R|elf.PF_X, p.Flags, m)
		assert.Equal(t, uint64(Base), p.Vaddr, m)
		assert.Equal(t, Align(m), p.Align, m)
		assert.Equal(t, uint64(0), p.Off, m)
		assert.Equal(t, uint64(len(b)), p.Filesz, m)
		assert.Equal(t, p.Vaddr+uint64(len(b)-len(text)), f.Entry, m)
		assert.Equal(t, text, b[len(b)-len(text):], m)
		for _, prog := range f.Progs {
			assert.NotEqual(t, elf.PT_INTERP, prog.Type, "static: no interpreter")
		}
	}
	assert.Equal(t, uint64(0x10000), Align(elf.EM_AARCH64), "arm64 kernels with 64 KiB pages")
	assert.Equal(t, uint64(0x1000), Align(elf.EM_X86_64))
}
