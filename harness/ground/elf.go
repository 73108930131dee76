package ground

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/corematrix/corematrix/internal/tinyelf"
)

// Program is the behaviour of a tiny child: its Steps, each one raw system
// call (x86-64, or arm64 when the harness runs on arm64: see arm64.go), run
// in order, then exit_group(Code). Children are
// single-threaded static ELF files of a few hundred bytes, so an exec storm of
// thousands of them stays cheap even under an emulated CPU, and each child's
// pid equals its tgid.
//
// Steps compose: a new workload is a list of steps, not new machine code.
// For example a child that waits on stdin, then unlinks argv[1] and exits 3,
// or 97 if the unlink failed:
//
//	Program{Code: 3, Steps: []Step{
//		ReadStdin(),
//		Syscall(SysUnlink, Argv(1)).OrExit(97),
//	}}
type Program struct {
	// Steps run in order; a step whose check fails exits the child.
	Steps []Step
	// Code is the exit status the child passes to exit_group after the last
	// step.
	Code uint8
}

// System call numbers (x86-64) used by the predefined steps.
const (
	SysRead      = 0
	SysWrite     = 1
	SysOpen      = 2
	SysClose     = 3
	SysExecve    = 59
	SysUnlink    = 87
	SysExitGroup = 231
)

const (
	oRdonly     = 0
	stdinFd     = 0
	stdoutFd    = 1
	scratchDisp = -16 // the scratch byte lives below the initial stack pointer
)

// Operand is a system call argument: a constant or a value taken from the
// child's initial stack (argc, argv, envp), which the child never moves.
type Operand struct {
	kind  operandKind
	value int32
}

type operandKind int

const (
	opImm     operandKind = iota // value
	opArgv                       // argv[value]
	opArgvPtr                    // &argv[value]
	opEnvp                       // envp
	opScratch                    // a one-byte buffer below the stack
	opResult                     // the previous system call's result
)

// Imm is the constant v.
func Imm(v int32) Operand { return Operand{opImm, v} }

// Argv is the pointer argv[i] (argv[0] is the program's path).
func Argv(i int) Operand { return Operand{opArgv, int32(i)} }

// ArgvFrom is &argv[i]: argv[i:] as a NULL-terminated array.
func ArgvFrom(i int) Operand { return Operand{opArgvPtr, int32(i)} }

// Envp is the child's own environment.
func Envp() Operand { return Operand{opEnvp, 0} }

// Scratch is a pointer to a byte of writable memory.
func Scratch() Operand { return Operand{opScratch, 0} }

// Result is the previous system call's return value, e.g. the descriptor
// an open returned.
func Result() Operand { return Operand{opResult, 0} }

// Step is one system call of a Program with an optional check of its
// result, or a loop of steps (Repeat).
type Step struct {
	nr   int32
	args []Operand
	// check is the jump that skips the failure exit: 0 for no check.
	check    byte
	failCode uint8
	// A loop step (isLoop) runs body times times.
	isLoop bool
	times  uint32
	body   []Step
}

// Repeat runs steps n times (not at all when n is 0), a system call apart:
// a burst of events from one process that costs microseconds each even
// under an emulated CPU. The counter lives in r12, which system calls
// preserve; loops do not nest.
func Repeat(n uint32, steps ...Step) Step {
	for _, s := range steps {
		if s.isLoop {
			panic("ground: Repeat inside Repeat")
		}
	}
	return Step{isLoop: true, times: n, body: steps}
}

// Conditional jumps (rel8) over the failure exit.
const (
	jns = 0x79 // result >= 0
	jg  = 0x7f // result > 0
)

// Syscall is the system call nr with up to six arguments (rdi, rsi, rdx,
// r10, r8, r9). Its result is ignored unless OrExit or OrExitUnlessPositive
// adds a check.
func Syscall(nr int32, args ...Operand) Step {
	if len(args) > len(argRegs) {
		panic(fmt.Sprintf("ground: syscall %d with %d arguments, at most %d", nr, len(args), len(argRegs)))
	}
	return Step{nr: nr, args: args}
}

// OrExit makes the child exit with code when the call returns an error
// (a negative value).
func (s Step) OrExit(code uint8) Step {
	s.check, s.failCode = jns, code
	return s
}

// OrExitUnlessPositive makes the child exit with code when the call returns
// zero or an error, as a read at end of file does.
func (s Step) OrExitUnlessPositive(code uint8) Step {
	s.check, s.failCode = jg, code
	return s
}

// ReadStdin reads one byte from fd 0 and ignores the result. With an empty
// pipe as stdin the child sleeps in TASK_INTERRUPTIBLE until a byte arrives
// or the write end closes.
func ReadStdin() Step { return Syscall(SysRead, Imm(stdinFd), Scratch(), Imm(1)) }

// OpenArg opens argv[i] read-only and exits with failCode if that fails.
// The descriptor stays open until the child exits.
func OpenArg(i int, failCode uint8) Step {
	return Syscall(SysOpen, Argv(i), Imm(oRdonly)).OrExit(failCode)
}

// OpenCloseArg opens argv[i] read-only and closes it again, n times, and
// exits with failCode if an open fails.
func OpenCloseArg(i int, n uint32, failCode uint8) Step {
	return Repeat(n, OpenArg(i, failCode), Syscall(SysClose, Result()))
}

// WriteStdout writes one byte to fd 1.
func WriteStdout() Step { return Syscall(SysWrite, Imm(stdoutFd), Scratch(), Imm(1)) }

// ExecArg execs argv[i] with argv[i:] as its arguments and the child's own
// environment. It returns only when execve fails, so the steps after it (and
// Code) describe that failure.
func ExecArg(i int) Step { return Syscall(SysExecve, Argv(i), ArgvFrom(i), Envp()) }

// OpenFailedCode is the exit status the workloads of package harness use for
// a failed OpenArg.
const OpenFailedCode = 99

// argRegs are the x86-64 system call argument registers, by number
// (rdi=7, rsi=6, rdx=2, r10, r8, r9).
var argRegs = []byte{7, 6, 2, 10, 8, 9}

const regRax = 0

// exitSeq is: mov edi, code; mov eax, 231 (exit_group); syscall.
func exitSeq(code uint8) []byte {
	b := movImm(argRegs[0], int32(code))
	b = append(b, movImm(regRax, SysExitGroup)...)
	return append(b, 0x0f, 0x05)
}

// movImm is mov r32, imm32 (zero-extended to 64 bits).
func movImm(reg byte, v int32) []byte {
	var b []byte
	if reg >= 8 {
		b = append(b, 0x41)
	}
	b = append(b, 0xb8+reg&7)
	return binary.LittleEndian.AppendUint32(b, uint32(v))
}

// rspOp is a 64-bit mov (0x8b) or lea (0x8d) of reg from [rsp+disp], or from
// [rsp+rax*8+disp] when indexed.
func rspOp(opcode, reg byte, disp int32, indexed bool) []byte {
	rex := byte(0x48)
	if reg >= 8 {
		rex |= 0x04 // REX.R
	}
	sib := byte(0x24) // base rsp, no index
	if indexed {
		sib = 0xc4 // scale 8, index rax, base rsp
	}
	modrm := (reg & 7) << 3 // rm=100: SIB follows
	if disp >= -128 && disp <= 127 {
		return []byte{rex, opcode, 0x44 | modrm, sib, byte(int8(disp))}
	}
	return binary.LittleEndian.AppendUint32([]byte{rex, opcode, 0x84 | modrm, sib}, uint32(disp))
}

// load sets reg to o. It may use rax.
func (o Operand) load(reg byte) []byte {
	switch o.kind {
	case opArgv:
		return rspOp(0x8b, reg, 8+8*o.value, false) // mov reg, [rsp+8+8i]
	case opArgvPtr:
		return rspOp(0x8d, reg, 8+8*o.value, false) // lea reg, [rsp+8+8i]
	case opEnvp:
		b := rspOp(0x8b, regRax, 0, false)              // mov rax, [rsp] (argc)
		return append(b, rspOp(0x8d, reg, 16, true)...) // lea reg, [rsp+rax*8+16]
	case opScratch:
		return rspOp(0x8d, reg, scratchDisp, false)
	case opResult:
		if reg == regRax {
			return nil
		}
		rex := byte(0x48)
		if reg >= 8 {
			rex |= 0x01 // REX.B
		}
		return []byte{rex, 0x89, 0xc0 | reg&7} // mov reg, rax
	}
	return movImm(reg, o.value)
}

func (s Step) code() []byte {
	if s.isLoop {
		return s.loop()
	}
	var b []byte
	// The previous result is in rax, which loading other operands may
	// overwrite: take it first.
	for i, a := range s.args {
		if a.kind == opResult {
			b = append(b, a.load(argRegs[i])...)
		}
	}
	for i, a := range s.args {
		if a.kind != opResult {
			b = append(b, a.load(argRegs[i])...)
		}
	}
	b = append(b, movImm(regRax, s.nr)...)
	b = append(b, 0x0f, 0x05) // syscall
	if s.check != 0 {
		fail := exitSeq(s.failCode)
		b = append(b, 0x48, 0x85, 0xc0, s.check, byte(len(fail))) // test rax, rax; jCC over fail
		b = append(b, fail...)
	}
	return b
}

// loop is: mov r12d, n; body; dec r12d; jnz body.
func (s Step) loop() []byte {
	if s.times == 0 {
		return nil
	}
	b := binary.LittleEndian.AppendUint32([]byte{0x41, 0xbc}, s.times)
	start := len(b)
	for _, st := range s.body {
		b = append(b, st.code()...)
	}
	b = append(b, 0x41, 0xff, 0xcc) // dec r12d
	if back := start - (len(b) + 2); back >= -128 {
		return append(b, 0x75, byte(int8(back))) // jnz rel8
	}
	back := start - (len(b) + 6)
	return binary.LittleEndian.AppendUint32(append(b, 0x0f, 0x85), uint32(int32(back))) // jnz rel32
}

// Text returns the machine code of p for the architecture this process runs
// on (the guest's).
func (p Program) Text() []byte { return p.TextFor(runtime.GOARCH) }

// TextFor returns the machine code of p for arch ("amd64", "arm64").
func (p Program) TextFor(arch string) []byte {
	if arch == "arm64" {
		return p.textARM64()
	}
	var b []byte
	for _, s := range p.Steps {
		b = append(b, s.code()...)
	}
	return append(b, exitSeq(p.Code)...)
}

// ELF returns a complete static executable running p, for the architecture
// this process runs on.
func (p Program) ELF() []byte { return p.ELFFor(runtime.GOARCH) }

// ELFFor returns a complete static executable running p for arch.
func (p Program) ELFFor(arch string) []byte {
	if arch == "arm64" {
		return tinyelf.Executable(elf.EM_AARCH64, p.TextFor(arch))
	}
	return tinyelf.Executable(elf.EM_X86_64, p.TextFor(arch))
}

// Install writes p as an executable named name (the basename the kernel will
// use for comm) into dir, readable and executable by every user, and returns
// its absolute path. dir itself is made searchable by every user so that
// children running under a non-root uid can exec it.
func (p Program) Install(dir, name string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	return install(abs, name, p.ELF())
}
