package ground

import "encoding/binary"

// The arm64 back end of Program: the same steps as raw arm64 system calls
// (number in x8, arguments in x0..x5, svc #0, result in x0). arm64 has the
// generic system call table: no open or unlink, only openat and unlinkat,
// which the steps call with AT_FDCWD, the same system call as far as the
// kernel's VFS (and the probes' vfs_open) is concerned.

// arm64Syscalls maps the x86-64 numbers of the predefined steps to arm64's.
var arm64Syscalls = map[int32]int32{
	SysRead:      63,
	SysWrite:     64,
	SysOpen:      56, // openat
	SysClose:     57,
	SysExecve:    221,
	SysUnlink:    35, // unlinkat
	SysExitGroup: 94,
}

const (
	atFDCWD   = -100
	a64SP     = 31 // register 31 is sp in loads and add/sub immediate
	a64Tmp    = 9  // scratch register for operands
	a64Tmp2   = 10 // second scratch register
	a64Nr     = 8  // system call number
	a64Loop   = 19 // loop counter: callee-saved, system calls keep it
	a64SVC    = 0xd4000001
	a64CondNE = 0x1
	a64CondGT = 0xc
)

func a64(ws ...uint32) []byte {
	b := make([]byte, 0, 4*len(ws))
	for _, w := range ws {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return b
}

// a64Mov sets xd to the sign-extended v (movz, then movk per non-zero
// halfword).
func a64Mov(rd uint32, v int64) []byte {
	u := uint64(v)
	ws := []uint32{0xd2800000 | uint32(u&0xffff)<<5 | rd} // movz xd, #lo
	for hw := uint32(1); hw < 4; hw++ {
		if h := uint32(u>>(16*hw)) & 0xffff; h != 0 {
			ws = append(ws, 0xf2800000|hw<<21|h<<5|rd) // movk xd, #h, lsl #16*hw
		}
	}
	return a64(ws...)
}

// a64Ldr is ldr xt, [sp, #off] (off a multiple of 8).
func a64Ldr(rt uint32, off int32) []byte {
	return a64(0xf9400000 | uint32(off/8)<<10 | a64SP<<5 | rt)
}

// a64AddSP is add xd, sp, #off, or sub for a negative off.
func a64AddSP(rd uint32, off int32) []byte {
	if off < 0 {
		return a64(0xd1000000 | uint32(-off)<<10 | a64SP<<5 | rd)
	}
	return a64(0x91000000 | uint32(off)<<10 | a64SP<<5 | rd)
}

// loadARM64 sets xreg to o. It may use x9 and x10.
func (o Operand) loadARM64(reg uint32) []byte {
	switch o.kind {
	case opArgv:
		return a64Ldr(reg, 8+8*o.value)
	case opArgvPtr:
		return a64AddSP(reg, 8+8*o.value)
	case opEnvp:
		// envp = sp + 16 + 8*argc
		b := a64Ldr(a64Tmp, 0)                                               // ldr x9, [sp] (argc)
		b = append(b, a64AddSP(a64Tmp2, 16)...)                              // add x10, sp, #16
		return append(b, a64(0x8b000000|a64Tmp<<16|3<<10|a64Tmp2<<5|reg)...) // add xd, x10, x9, lsl #3
	case opScratch:
		return a64AddSP(reg, scratchDisp)
	case opResult:
		if reg == 0 {
			return nil
		}
		return a64(0xaa0003e0 | reg) // mov xd, x0
	}
	return a64Mov(reg, int64(o.value))
}

// exitARM64 is exit_group(code).
func exitARM64(code uint8) []byte {
	b := a64Mov(0, int64(code))
	b = append(b, a64Mov(a64Nr, int64(arm64Syscalls[SysExitGroup]))...)
	return append(b, a64(a64SVC)...)
}

// arm64Args returns the arm64 system call and arguments of s.
func (s Step) arm64Args() (int32, []Operand) {
	nr, args := s.nr, s.args
	switch nr {
	case SysOpen:
		args = append([]Operand{Imm(atFDCWD)}, args...)
	case SysUnlink:
		args = append(append([]Operand{Imm(atFDCWD)}, args...), Imm(0))
	}
	if n, ok := arm64Syscalls[nr]; ok {
		nr = n
	}
	return nr, args
}

func (s Step) codeARM64() []byte {
	if s.isLoop {
		return s.loopARM64()
	}
	nr, args := s.arm64Args()
	var b []byte
	// The previous result is in x0, which loading other operands may
	// overwrite: take it first.
	for i, a := range args {
		if a.kind == opResult {
			b = append(b, a.loadARM64(uint32(i))...)
		}
	}
	for i, a := range args {
		if a.kind != opResult {
			b = append(b, a.loadARM64(uint32(i))...)
		}
	}
	b = append(b, a64Mov(a64Nr, int64(nr))...)
	b = append(b, a64(a64SVC)...)
	if s.check != 0 {
		fail := exitARM64(s.failCode)
		skip := uint32(len(fail)/4 + 1) // instructions to jump over fail
		switch s.check {
		case jns:
			// tbz x0, #63, over: the sign bit clear means result >= 0.
			b = append(b, a64(0x36000000|1<<31|31<<19|skip<<5)...)
		case jg:
			b = append(b, a64(0xf100001f)...)                   // cmp x0, #0
			b = append(b, a64(0x54000000|skip<<5|a64CondGT)...) // b.gt over
		}
		b = append(b, fail...)
	}
	return b
}

// loopARM64 is: mov x19, n; body; subs x19, x19, #1; b.ne body.
func (s Step) loopARM64() []byte {
	if s.times == 0 {
		return nil
	}
	b := a64Mov(a64Loop, int64(s.times))
	start := len(b)
	for _, st := range s.body {
		b = append(b, st.codeARM64()...)
	}
	b = append(b, a64(0xf1000400|a64Loop<<5|a64Loop)...) // subs x19, x19, #1
	back := int32(start-len(b)) / 4
	return append(b, a64(0x54000000|(uint32(back)&0x7ffff)<<5|a64CondNE)...)
}

// textARM64 returns the arm64 machine code of p.
func (p Program) textARM64() []byte {
	var b []byte
	for _, s := range p.Steps {
		b = append(b, s.codeARM64()...)
	}
	return append(b, exitARM64(p.Code)...)
}
