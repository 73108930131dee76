package bench

import (
	"debug/elf"
	"encoding/binary"
	"slices"

	"github.com/corematrix/corematrix/internal/tinyelf"
)

// tinyArch is how the benchmark's tiny programs look on one architecture.
type tinyArch struct {
	machine elf.Machine
	// powerOffText and exit0Text are the raw machine code.
	powerOffText, exit0Text []byte
}

func (t tinyArch) powerOff() []byte { return tinyelf.Executable(t.machine, t.powerOffText) }
func (t tinyArch) exit0() []byte    { return tinyelf.Executable(t.machine, t.exit0Text) }

// tiny holds the benchmark's programs per guest architecture.
var tiny = map[string]tinyArch{
	"amd64": {elf.EM_X86_64, powerOffText, exit0Text},
	"arm64": {elf.EM_AARCH64, powerOffARM64, exit0ARM64},
}

// Machine code of the benchmark's tiny programs (x86-64, raw system calls).
var (
	// powerOffText: reboot(LINUX_REBOOT_CMD_POWER_OFF), then RESTART (ends
	// QEMU too, -no-reboot) should power-off be missing, then spin.
	powerOffText = slices.Concat(
		rebootSeq(0x4321fedc), // POWER_OFF
		rebootSeq(0x01234567), // RESTART
		[]byte{0xeb, 0xfe},    // jmp .
	)
	// exit0Text: exit_group(0).
	exit0Text = []byte{
		0x31, 0xff, // xor edi, edi
		0xb8, 0xe7, 0, 0, 0, // mov eax, 231 (exit_group)
		0x0f, 0x05, // syscall
	}
)

// rebootSeq is reboot(LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, cmd).
func rebootSeq(cmd uint32) []byte {
	b := []byte{
		0xbf, 0xad, 0xde, 0xe1, 0xfe, // mov edi, 0xfee1dead
		0xbe, 0x69, 0x19, 0x12, 0x28, // mov esi, 0x28121969
		0xba, 0, 0, 0, 0, // mov edx, cmd
		0xb8, 0xa9, 0, 0, 0, // mov eax, 169 (reboot)
		0x0f, 0x05, // syscall
	}
	binary.LittleEndian.PutUint32(b[11:], cmd)
	return b
}

// Machine code of the benchmark's tiny programs on arm64 (raw system calls:
// the number in x8, arguments from x0, svc #0).
var (
	powerOffARM64 = slices.Concat(
		rebootARM64(0x4321fedc), // POWER_OFF
		rebootARM64(0x01234567), // RESTART
		arm64Words(0x14000000),  // b .
	)
	// exit0ARM64: exit_group(0).
	exit0ARM64 = arm64Words(
		movz(0, 0, 0),  // mov x0, #0
		movz(8, 94, 0), // mov x8, #94 (exit_group)
		0xd4000001,     // svc #0
	)
)

// rebootARM64 is reboot(LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, cmd).
func rebootARM64(cmd uint32) []byte {
	return arm64Words(
		movz(0, 0xdead, 0), movk(0, 0xfee1, 1), // x0 = 0xfee1dead
		movz(1, 0x1969, 0), movk(1, 0x2812, 1), // x1 = 0x28121969
		movz(2, uint16(cmd), 0), movk(2, uint16(cmd>>16), 1),
		movz(8, 142, 0), // x8 = 142 (reboot)
		0xd4000001,      // svc #0
	)
}

// movz is MOVZ Xd, #imm, LSL #(16*hw); movk is MOVK.
func movz(rd uint32, imm uint16, hw uint32) uint32 {
	return 0xd2800000 | hw<<21 | uint32(imm)<<5 | rd
}

func movk(rd uint32, imm uint16, hw uint32) uint32 {
	return 0xf2800000 | hw<<21 | uint32(imm)<<5 | rd
}

func arm64Words(ws ...uint32) []byte {
	b := make([]byte, 4*len(ws))
	for i, w := range ws {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return b
}
