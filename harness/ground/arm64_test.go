package ground

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func words(b []byte) []uint32 {
	w := make([]uint32, len(b)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return w
}

// TestARM64Code checks the arm64 back end against what an assembler
// (llvm-mc) encodes for the same instructions.
func TestARM64Code(t *testing.T) {
	tests := []struct {
		asm  string
		got  []byte
		want []uint32
	}{
		{"mov x0, #7; mov x8, #94; svc #0", exitARM64(7), []uint32{0xd28000e0, 0xd2800bc8, 0xd4000001}},
		// read(0, sp-16, 1), then cmp x0, #0; b.gt over the exit.
		{"read or exit 7 unless positive", ReadStdin().OrExitUnlessPositive(7).codeARM64(),
			[]uint32{0xd2800000, 0xd10043e1, 0xd2800022, 0xd28007e8, 0xd4000001, 0xf100001f, 0x5400008c, 0xd28000e0, 0xd2800bc8, 0xd4000001}},
		// openat(AT_FDCWD, argv[1], O_RDONLY), tbz x0, #63 over the exit.
		{"openat or exit 99", OpenArg(1, 99).codeARM64(),
			[]uint32{0xd29ff380, 0xf2bfffe0, 0xf2dfffe0, 0xf2ffffe0, 0xf9400be1, 0xd2800002, 0xd2800708, 0xd4000001, 0xb6f80080, 0xd2800c60, 0xd2800bc8, 0xd4000001}},
		{"close(result)", Syscall(SysClose, Result()).codeARM64(), []uint32{0xd2800728, 0xd4000001}},
		{"close(result) as second argument", Syscall(SysWrite, Imm(1), Result()).codeARM64(), []uint32{0xaa0003e1, 0xd2800020, 0xd2800808, 0xd4000001}},
		// execve(argv[1], &argv[1], sp+16+8*argc)
		{"execve", ExecArg(1).codeARM64(),
			[]uint32{0xf9400be0, 0x910043e1, 0xf94003e9, 0x910043ea, 0x8b090d42, 0xd2801ba8, 0xd4000001}},
		// unlinkat(AT_FDCWD, argv[2], 0)
		{"unlinkat", Syscall(SysUnlink, Argv(2)).codeARM64(),
			[]uint32{0xd29ff380, 0xf2bfffe0, 0xf2dfffe0, 0xf2ffffe0, 0xf9400fe1, 0xd2800002, 0xd2800468, 0xd4000001}},
		// mov x19, #5; close(x0); subs x19, x19, #1; b.ne -2 instructions
		{"loop", Repeat(5, Syscall(SysClose, Result())).codeARM64(),
			[]uint32{0xd28000b3, 0xd2800728, 0xd4000001, 0xf1000673, 0x54ffffa1}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, words(tt.got), tt.asm)
	}
	assert.Empty(t, Repeat(0, ReadStdin()).codeARM64(), "zero iterations")
}

// TestELFForARM64 checks the arm64 executable's header: EM_AARCH64, one
// segment mapping the whole file, the entry at the text.
func TestELFForARM64(t *testing.T) {
	p := Program{Code: 3, Steps: []Step{OpenArg(1, OpenFailedCode)}}
	b := p.ELFFor("arm64")
	f, err := elf.NewFile(bytes.NewReader(b))
	require.NoError(t, err)
	assert.Equal(t, elf.EM_AARCH64, f.Machine)
	require.Len(t, f.Progs, 1)
	assert.Equal(t, uint64(len(b)), f.Progs[0].Filesz)
	assert.Equal(t, uint64(0x10000), f.Progs[0].Align)
	text := p.TextFor("arm64")
	assert.Equal(t, text, b[len(b)-len(text):])
	assert.Equal(t, f.Progs[0].Vaddr+uint64(len(b)-len(text)), f.Entry)
	assert.Equal(t, elf.EM_X86_64, mustELF(t, p.ELFFor("amd64")).Machine)
}

func mustELF(t *testing.T, b []byte) *elf.File {
	f, err := elf.NewFile(bytes.NewReader(b))
	require.NoError(t, err)
	return f
}
