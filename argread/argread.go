// Package argread finds which arguments of its traced function each kprobe,
// kretprobe, fentry and fexit program of a BPF object reads, so that the
// offline report can compare the function's parameter at that position
// across kernels (see package btfproto): a kprobe reads arguments by
// register, and a prototype that moved its parameters makes the same object
// read something else, with no CO-RE relocation failing.
//
// A read is found in three forms, all x86-64:
//   - a CO-RE relocation of a struct pt_regs field (di, si, dx, cx, r8, r9
//     for arguments 1 to 6, ax for the return value), as PT_REGS_PARMn and
//     PT_REGS_PARMn_CORE produce when pt_regs carries preserve_access_index;
//   - a plain load from the context at the fixed pt_regs offsets of the
//     ptrace ABI (di 112, si 104, dx 96, cx 88, r8 72, r9 64, ax 80), the
//     BPF_KPROBE / PT_REGS_PARMn form over a pt_regs without CO-RE;
//   - for fentry and fexit, a load of ctx[i] (offset 8*i): argument i+1, and
//     for fexit the return value at the index equal to the argument count,
//     which depends on the kernel (Read.At resolves it against a prototype).
//
// The context is followed through register moves within the program's own
// instructions; a read inside a BPF-to-BPF subprogram that is not inlined,
// or through a context pointer spilled to the stack and loaded back, is not
// seen (clang at -O2 keeps the context in a register and inlines
// BPF_KPROBE's body).
//
// It is offline analysis: it imports corerelo, btfproto and kernel (the
// identity of a kernel) and must not import kernels, vmtest or probes.
package argread

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/btfproto"
	"github.com/corematrix/corematrix/corerelo"
)

// Attach types of a Read.
const (
	Kprobe    = "kprobe"
	Kretprobe = "kretprobe"
	Fentry    = "fentry"
	Fexit     = "fexit"
)

// ptRegs maps the x86-64 pt_regs fields that carry function arguments (and
// the return value, position 0) to the argument position.
var ptRegs = map[string]int{"di": 1, "si": 2, "dx": 3, "cx": 4, "r8": 5, "r9": 6, "ax": 0}

// ptRegsOffset maps the byte offset of those fields in the ptrace ABI layout
// of struct pt_regs (arch/x86/include/uapi/asm/ptrace.h) to the field.
var ptRegsOffset = map[int16]string{112: "di", 104: "si", 96: "dx", 88: "cx", 72: "r8", 64: "r9", 80: "ax"}

// Read is one read of a traced function's argument or return value.
type Read struct {
	Program string `json:"program"`
	// Attach is "kprobe", "kretprobe", "fentry" or "fexit".
	Attach string `json:"attach"`
	// Target is the traced function.
	Target string `json:"target"`
	// Position is the 1-based argument, 0 for the return value. For fentry
	// and fexit it is Slot+1, and At decides whether the slot is the return
	// value.
	Position int `json:"position"`
	// Slot is the ctx index of an fentry/fexit read, -1 for kprobes.
	Slot int `json:"slot"`
	// Via says how the read was found: "pt_regs.si (CO-RE)", "ctx+104 (si)"
	// or "ctx[1]".
	Via string `json:"via"`
	// Insn is the index of the reading instruction in the program.
	Insn int `json:"insn"`
}

// Label names what is read: "arg 2" or "return".
func (r Read) Label() string {
	if r.Position == 0 {
		return "return"
	}
	return fmt.Sprintf("arg %d", r.Position)
}

// At returns what r reads on a kernel whose prototype of the target is p: the
// label ("arg 2", "return") and the type read, or ok false when the position
// does not exist there (the function has fewer parameters).
func (r Read) At(p btfproto.Proto) (label, typ string, ok bool) {
	if r.Attach == Fexit && r.Slot == len(p.Params) {
		return "return", p.Return, true
	}
	if r.Position == 0 {
		return "return", p.Return, true
	}
	a, ok := p.Arg(r.Position)
	if !ok {
		return r.Label(), "", false
	}
	return r.Label(), a.Type, true
}

// Traced reports whether a program spec traces a kernel function with
// arguments this package understands, and returns the attach type and the
// target.
func Traced(p *ebpf.ProgramSpec) (attach, target string, ok bool) {
	switch p.Type {
	case ebpf.Kprobe:
		sec := p.SectionName
		switch {
		case strings.HasPrefix(sec, "kprobe/"):
			attach = Kprobe
		case strings.HasPrefix(sec, "kretprobe/"):
			attach = Kretprobe
		default:
			return "", "", false // uprobes, multi-kprobes
		}
	case ebpf.Tracing:
		switch p.AttachType {
		case ebpf.AttachTraceFEntry:
			attach = Fentry
		case ebpf.AttachTraceFExit:
			attach = Fexit
		default:
			return "", "", false
		}
	default:
		return "", "", false
	}
	target = p.AttachTo
	if i := strings.IndexByte(target, '+'); i >= 0 {
		target = target[:i] // kprobe/func+offset
	}
	return attach, target, target != ""
}

// Reads returns the argument reads of every traced program of spec, sorted by
// program, position and instruction. The object's BTF (spec.Types) names
// the fields of CO-RE relocations.
func Reads(spec *ebpf.CollectionSpec) ([]Read, error) {
	var out []Read
	for _, p := range spec.Programs {
		rs, err := ProgramReads(p, spec.Types)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Program != b.Program {
			return a.Program < b.Program
		}
		if a.Position != b.Position {
			return a.Position < b.Position
		}
		return a.Insn < b.Insn
	})
	return out, nil
}

// ProgramReads returns the argument reads of one program, none when it does
// not trace a function (see Traced).
func ProgramReads(p *ebpf.ProgramSpec, local *btf.Spec) ([]Read, error) {
	attach, target, ok := Traced(p)
	if !ok {
		return nil, nil
	}
	tracing := attach == Fentry || attach == Fexit
	var out []Read
	add := func(i, pos, slot int, via string) {
		out = append(out, Read{Program: p.Name, Attach: attach, Target: target, Position: pos, Slot: slot, Via: via, Insn: i})
	}
	ctx := contextRegisters(p.Instructions)
	for i := range p.Instructions {
		ins := &p.Instructions[i]
		if relo := btf.CORERelocationMetadata(ins); relo != nil && !tracing {
			// Only a field of the context itself: a pt_regs reached through
			// a pointer (a syscall's inner regs) is not this call's.
			if !relocatesContext(p.Instructions, ctx, i) {
				continue
			}
			d, err := corerelo.Describe(relo, local)
			if err != nil {
				return nil, fmt.Errorf("program %s: %w", p.Name, err)
			}
			field, isRegs := strings.CutPrefix(d.Access, "pt_regs.")
			if pos, known := ptRegs[field]; isRegs && known && d.Type == "pt_regs" {
				add(i, pos, -1, d.Access+" (CO-RE)")
			}
			continue
		}
		if ins.OpCode.Class() != asm.LdXClass || ins.OpCode.Mode() != asm.MemMode || ctx[i]&(1<<ins.Src) == 0 {
			continue
		}
		off := ins.Offset &^ 7 // a narrower load reads the low bytes
		if tracing {
			slot := int(off / 8)
			add(i, slot+1, slot, fmt.Sprintf("ctx[%d]", slot))
			continue
		}
		if field, ok := ptRegsOffset[off]; ok {
			add(i, ptRegs[field], -1, fmt.Sprintf("ctx+%d (%s)", off, field))
		}
	}
	return out, nil
}

// relocatesContext reports whether the relocated instruction i addresses the
// context itself: a load from it, an offset added to it, or an offset moved
// into a register that is then added to it (clang's form of
// bpf_probe_read_kernel(&ctx->si)). Anything else addresses another
// pt_regs, such as the one a syscall wrapper receives as its argument.
func relocatesContext(insns asm.Instructions, ctx []uint16, i int) bool {
	ins := &insns[i]
	op := ins.OpCode
	switch {
	case op.Class() == asm.LdXClass:
		return ctx[i]&(1<<ins.Src) != 0
	case op.Class().IsALU() && op.ALUOp() == asm.Add && op.Source() == asm.ImmSource:
		return ctx[i]&(1<<ins.Dst) != 0
	case op.Class().IsALU() && op.ALUOp() == asm.Mov && op.Source() == asm.ImmSource:
		// Follow the offset to the addition that uses it, in the same
		// straight-line code.
		off := ins.Dst
		for j := i + 1; j < len(insns); j++ {
			next := &insns[j]
			nop := next.OpCode
			if nop.Class().IsJump() {
				return false
			}
			if nop.Class().IsALU() && nop.ALUOp() == asm.Add && nop.Source() == asm.RegSource && next.Src == off {
				return ctx[j]&(1<<next.Dst) != 0
			}
			if writes(next, off) {
				return false
			}
		}
	}
	return false
}

// writes reports whether ins overwrites register r.
func writes(ins *asm.Instruction, r asm.Register) bool {
	switch c := ins.OpCode.Class(); {
	case c.IsALU(), c == asm.LdXClass, c == asm.LdClass:
		return ins.Dst == r
	}
	return false
}

// contextRegisters returns, per instruction, the set of registers (bit n for
// Rn) that may hold the context pointer before it runs: R1 at entry, copied
// by register moves, lost when overwritten or clobbered by a call. Paths are
// merged by union, so a register that holds the context on any path counts.
func contextRegisters(insns asm.Instructions) []uint16 {
	n := len(insns)
	state := make([]uint16, n)
	seen := make([]bool, n)
	if n == 0 {
		return state
	}
	rawToIdx := make(map[int]int, n)
	rawOf := make([]int, n)
	raw := 0
	for i := range insns {
		rawToIdx[raw] = i
		rawOf[i] = raw
		raw += int(insns[i].Width())
	}
	state[0], seen[0] = 1<<asm.R1, true
	work := []int{0}
	push := func(j int, s uint16) {
		if j < 0 || j >= n {
			return
		}
		if !seen[j] || state[j]|s != state[j] {
			state[j] |= s
			seen[j] = true
			work = append(work, j)
		}
	}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		ins := &insns[i]
		s := state[i]
		op := ins.OpCode
		next := i + 1
		switch class := op.Class(); {
		case class.IsJump():
			switch op.JumpOp() {
			case asm.Exit:
				continue
			case asm.Call:
				s &^= 0b111111 // R0-R5
				push(next, s)
				continue
			case asm.Ja:
				if t, ok := rawToIdx[rawOf[i]+int(ins.Width())+jumpOffset(ins)]; ok {
					push(t, s)
				}
				continue
			default:
				if t, ok := rawToIdx[rawOf[i]+int(ins.Width())+jumpOffset(ins)]; ok {
					push(t, s)
				}
				push(next, s)
				continue
			}
		case class.IsALU():
			dst := uint16(1) << ins.Dst
			if op.ALUOp() == asm.Mov && op.Source() == asm.RegSource && class == asm.ALU64Class && s&(1<<ins.Src) != 0 {
				s |= dst
			} else {
				s &^= dst
			}
		case class == asm.LdXClass || class == asm.LdClass:
			s &^= 1 << ins.Dst
		}
		push(next, s)
	}
	return state
}

// jumpOffset is a jump's offset in raw slots (JA32 keeps it in Constant).
func jumpOffset(ins *asm.Instruction) int {
	if ins.OpCode.Class() == asm.Jump32Class && ins.OpCode.JumpOp() == asm.Ja {
		return int(ins.Constant)
	}
	return int(ins.Offset)
}
