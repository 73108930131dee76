package corerelo

import (
	"encoding/binary"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// This file decides which instructions of a relocated program the verifier
// can reach, the way the verifier itself prunes: CO-RE existence checks
// become constants after relocation ("r1 = 0; if r1 == 0 goto ..."), and a
// branch on a known constant has only one live side.
//
// The analysis tracks, per instruction, which registers hold a known 64-bit
// constant, through moves, ALU operations with known operands and 64-bit
// immediate loads; everything else (memory loads, helper results, stack
// spills, map values) is unknown, and a branch on an unknown value keeps both
// sides live. A BPF-to-BPF call makes its callee live with unknown arguments,
// and so does loading a function's address (a callback for bpf_loop and
// friends).
// It therefore over-approximates reachability: when it says a poisoned
// instruction is dead, the verifier never visits it; when it says reachable,
// the verifier may still prove it dead through facts this analysis drops
// (a constant spilled to the stack and reloaded, for example). Compilers emit
// the CO-RE check and its branch next to each other, so this does not happen
// for bpf_core_field_exists / bpf_core_type_exists as clang emits them.

// regs is the abstract state: which registers hold a known constant, and
// which a pointer into a read-only map's value at a known offset (mapRef
// names the map, val holds the offset).
type regs struct {
	known  [asm.R10 + 1]bool
	val    [asm.R10 + 1]uint64
	mapRef [asm.R10 + 1]string
}

func (r *regs) set(reg asm.Register, v uint64) {
	if reg <= asm.R10 {
		r.known[reg], r.val[reg], r.mapRef[reg] = true, v, ""
	}
}

// setMapPointer records that reg points off bytes into read-only map ref.
func (r *regs) setMapPointer(reg asm.Register, ref string, off uint64) {
	if reg <= asm.R10 {
		r.known[reg], r.val[reg], r.mapRef[reg] = false, off, ref
	}
}

func (r *regs) forget(reg asm.Register) {
	if reg <= asm.R10 {
		r.known[reg], r.mapRef[reg] = false, ""
	}
}

func (r *regs) get(reg asm.Register) (uint64, bool) {
	if reg > asm.R10 {
		return 0, false
	}
	return r.val[reg], r.known[reg]
}

// clobberCall forgets what a call overwrites: r0 (the result) and r1-r5
// (caller-saved).
func (r *regs) clobberCall() {
	for reg := asm.R0; reg <= asm.R5; reg++ {
		r.forget(reg)
	}
}

// merge joins other into r and reports whether r changed.
func (r *regs) merge(other *regs) bool {
	changed := false
	for i := range r.known {
		if r.known[i] && (!other.known[i] || other.val[i] != r.val[i]) {
			r.known[i] = false
			changed = true
		}
		if r.mapRef[i] != "" && (other.mapRef[i] != r.mapRef[i] || other.val[i] != r.val[i]) {
			r.mapRef[i] = ""
			changed = true
		}
	}
	return changed
}

// IsPoisoned reports whether ins is what cilium/ebpf writes in place of an
// instruction whose CO-RE relocation has no valid target (btf.COREFixup.Apply):
// "call 0xbad2310", or for a 64-bit immediate load "r10 = 0xbad2310 ll".
func IsPoisoned(ins *asm.Instruction) bool {
	if ins.Constant != btf.COREBadRelocationSentinel {
		return false
	}
	if ins.IsBuiltinCall() {
		return true
	}
	return ins.OpCode.IsDWordLoad() && ins.Dst == asm.R10
}

// Reachable returns, for each instruction of insns (indexed like the slice),
// whether the verifier can reach it from the first instruction.
func Reachable(insns asm.Instructions) []bool {
	return ReachableWith(insns, nil)
}

// ReachableWith is Reachable that also knows the contents of read-only maps
// (readOnly returns the value of the map an instruction references, nil for
// a map that is not read-only): the verifier reads constants out of a
// frozen BPF_F_RDONLY_PROG map (Requires kernel 5.2), so a branch on a
// `const volatile` global (libbpf's .rodata) has one live side, the one the
// value in the object picks.
func ReachableWith(insns asm.Instructions, readOnly func(ref string) []byte) []bool {
	a := newReacher(insns)
	a.readOnly = readOnly
	if len(insns) > 0 {
		a.push(0, &regs{})
	}
	for len(a.work) > 0 {
		i := a.work[len(a.work)-1]
		a.work = a.work[:len(a.work)-1]
		if !a.step(i) {
			return allLive(a.live)
		}
	}
	return a.live
}

// reacher is the state of one Reachable analysis: a work list of
// instructions whose abstract state changed.
type reacher struct {
	insns asm.Instructions
	// rawToIdx maps a raw (8-byte slot) offset to an instruction index;
	// rawOf is the inverse.
	rawToIdx map[int]int
	rawOf    []int
	// symbols maps a function or label to its instruction index.
	symbols map[string]int
	states  []*regs
	live    []bool
	work    []int
	// readOnly gives the contents of read-only maps (see ReachableWith).
	readOnly func(ref string) []byte
}

func newReacher(insns asm.Instructions) *reacher {
	n := len(insns)
	a := &reacher{insns: insns, rawToIdx: make(map[int]int, n), rawOf: make([]int, n),
		symbols: make(map[string]int), states: make([]*regs, n), live: make([]bool, n)}
	raw := 0
	for i := range insns {
		a.rawToIdx[raw] = i
		a.rawOf[i] = raw
		if sym := insns[i].Symbol(); sym != "" {
			a.symbols[sym] = i
		}
		raw += int(insns[i].Width())
	}
	return a
}

// push makes instruction i live with state st, merged into what it had;
// it is (re)visited when that changed its state.
func (a *reacher) push(i int, st *regs) {
	if i < 0 || i >= len(a.insns) {
		return
	}
	if a.states[i] == nil {
		cp := *st
		a.states[i] = &cp
		a.live[i] = true
		a.work = append(a.work, i)
		return
	}
	if a.states[i].merge(st) {
		a.work = append(a.work, i)
	}
}

// jumpTarget returns the index instruction i jumps to with offset off, or
// -1 when no instruction starts there.
func (a *reacher) jumpTarget(i int, off int) int {
	// Programs assembled in Go jump to labels; programs read from an ELF
	// carry raw offsets.
	if ref := a.insns[i].Reference(); ref != "" && !a.insns[i].IsFunctionCall() {
		if t, ok := a.symbols[ref]; ok {
			return t
		}
	}
	t, ok := a.rawToIdx[a.rawOf[i]+1+off]
	if !ok {
		return -1
	}
	return t
}

// step interprets instruction i in its state and pushes its successors. It
// returns false when the analysis cannot follow the program (an unknown
// call target): everything must then be taken as live.
func (a *reacher) step(i int) bool {
	st := *a.states[i]
	ins := &a.insns[i]
	if IsPoisoned(ins) {
		// The verifier rejects the program here; nothing after it on this
		// path matters.
		return true
	}
	switch class := ins.OpCode.Class(); {
	case class.IsALU():
		alu(&st, ins, class == asm.ALUClass)
	case class == asm.LdClass:
		if !a.load(&st, ins) {
			return false
		}
	case class == asm.LdXClass:
		if v, ok := loadReadOnly(&st, ins, a.readOnly); ok {
			st.set(ins.Dst, v)
		} else {
			st.forget(ins.Dst)
		}
	case class == asm.StXClass:
		if ins.OpCode.Mode() == asm.AtomicMode {
			st.forget(ins.Src)
			st.forget(asm.R0)
		}
	case class.IsJump():
		return a.jump(i, &st, class == asm.Jump32Class)
	}
	a.push(i+1, &st)
	return true
}

// load applies a load of class LdClass to st; a function's address makes
// the function live (a callback for bpf_loop and friends). It returns false
// for the address of an unknown function.
func (a *reacher) load(st *regs, ins *asm.Instruction) bool {
	switch {
	case ins.IsConstantLoad(asm.DWord):
		st.set(ins.Dst, uint64(ins.Constant))
	case ins.IsLoadOfFunctionPointer():
		// A callback (bpf_loop, bpf_for_each_map_elem, timers): the helper
		// may call it, so it is live.
		st.forget(ins.Dst)
		t, ok := a.symbols[ins.Reference()]
		if !ok {
			return false
		}
		a.push(t, &regs{})
	case ins.OpCode.IsDWordLoad() && a.readOnly != nil && ins.Src == asm.PseudoMapValue && a.readOnly(ins.Reference()) != nil:
		st.setMapPointer(ins.Dst, ins.Reference(), uint64(ins.Constant)>>32)
	case ins.OpCode.IsDWordLoad():
		st.forget(ins.Dst) // map, BTF or function pointer
	default:
		st.clobberCall() // legacy packet loads clobber like a call
	}
	return true
}

// jump follows jump instruction i in state st: an exit ends the path, a
// BPF-to-BPF call makes its callee live, a branch on a known constant has
// only one live side. It returns false for a call to an unknown target.
func (a *reacher) jump(i int, st *regs, is32 bool) bool {
	ins := &a.insns[i]
	switch op := ins.OpCode.JumpOp(); {
	case op == asm.Exit:
		return true
	case op == asm.Call:
		if ins.IsFunctionCall() {
			callee := a.callee(i)
			if callee < 0 {
				return false
			}
			a.push(callee, &regs{})
		}
		st.clobberCall()
	case op == asm.Ja:
		off := int(ins.Offset)
		if is32 {
			off = int(ins.Constant) // gotol
		}
		a.push(a.jumpTarget(i, off), st)
		return true
	default:
		taken, known := evalJump(st, ins, is32)
		if !known || taken {
			a.push(a.jumpTarget(i, int(ins.Offset)), st)
		}
		if known && taken {
			return true
		}
	}
	a.push(i+1, st)
	return true
}

// callee returns the index of the function BPF-to-BPF call i calls, -1
// when unknown.
func (a *reacher) callee(i int) int {
	ins := &a.insns[i]
	if ref := ins.Reference(); ref != "" {
		if t, ok := a.symbols[ref]; ok {
			return t
		}
		return -1
	}
	return a.jumpTarget(i, int(ins.Constant))
}

// loadReadOnly returns the value a memory load reads from a read-only map
// the abstract state points into.
func loadReadOnly(st *regs, ins *asm.Instruction, readOnly func(string) []byte) (uint64, bool) {
	if readOnly == nil || ins.Src > asm.R10 || st.mapRef[ins.Src] == "" || ins.OpCode.Mode() != asm.MemMode {
		return 0, false
	}
	data := readOnly(st.mapRef[ins.Src])
	off := int64(st.val[ins.Src]) + int64(ins.Offset)
	size := int64(ins.OpCode.Size().Sizeof())
	if off < 0 || size <= 0 || off+size > int64(len(data)) {
		return 0, false
	}
	var buf [8]byte
	copy(buf[:], data[off:off+size])
	return binary.LittleEndian.Uint64(buf[:]), true
}

// allLive marks every instruction live: the conservative answer when the
// analysis cannot follow the program (an unknown call target).
func allLive(live []bool) []bool {
	for j := range live {
		live[j] = true
	}
	return live
}

// alu applies an ALU instruction to the abstract state.
func alu(st *regs, ins *asm.Instruction, is32 bool) {
	op := ins.OpCode.ALUOp()
	var src uint64
	srcKnown := true
	if ins.OpCode.Source() == asm.ImmSource {
		src = uint64(ins.Constant)
	} else {
		src, srcKnown = st.get(ins.Src)
	}
	if op == asm.Mov && ins.Offset == 0 { // Offset != 0 is movsx
		if ins.OpCode.Source() == asm.RegSource && !is32 && ins.Src <= asm.R10 && st.mapRef[ins.Src] != "" {
			st.setMapPointer(ins.Dst, st.mapRef[ins.Src], st.val[ins.Src])
			return
		}
		if !srcKnown {
			st.forget(ins.Dst)
			return
		}
		if is32 {
			src = uint64(uint32(src))
		}
		st.set(ins.Dst, src)
		return
	}
	if ins.Dst <= asm.R10 && st.mapRef[ins.Dst] != "" && op == asm.Add && ins.OpCode.Source() == asm.ImmSource && !is32 {
		st.setMapPointer(ins.Dst, st.mapRef[ins.Dst], st.val[ins.Dst]+src) // pointer arithmetic
		return
	}
	dst, dstKnown := st.get(ins.Dst)
	if !dstKnown || !srcKnown || ins.Offset != 0 {
		st.forget(ins.Dst)
		return
	}
	v, ok := FoldALU(op, dst, src, is32)
	if !ok {
		st.forget(ins.Dst)
		return
	}
	st.set(ins.Dst, v)
}

// evalJump decides a conditional jump when both operands are known.
func evalJump(st *regs, ins *asm.Instruction, is32 bool) (taken, known bool) {
	dst, ok := st.get(ins.Dst)
	if !ok {
		return false, false
	}
	var src uint64
	if ins.OpCode.Source() == asm.ImmSource {
		src = uint64(ins.Constant)
	} else if src, ok = st.get(ins.Src); !ok {
		return false, false
	}
	if is32 {
		dst, src = uint64(uint32(dst)), uint64(uint32(src))
	}
	sdst, ssrc := int64(dst), int64(src)
	if is32 {
		sdst, ssrc = int64(int32(dst)), int64(int32(src))
	}
	switch ins.OpCode.JumpOp() {
	case asm.JEq:
		return dst == src, true
	case asm.JNE:
		return dst != src, true
	case asm.JGT:
		return dst > src, true
	case asm.JGE:
		return dst >= src, true
	case asm.JLT:
		return dst < src, true
	case asm.JLE:
		return dst <= src, true
	case asm.JSGT:
		return sdst > ssrc, true
	case asm.JSGE:
		return sdst >= ssrc, true
	case asm.JSLT:
		return sdst < ssrc, true
	case asm.JSLE:
		return sdst <= ssrc, true
	case asm.JSet:
		return dst&src != 0, true
	}
	return false, false
}

// FoldALU computes the ALU operation op on two known operands as the
// verifier does for constants (32-bit operations truncate, shifts mask their
// count); ok is false for operations it does not fold (division, moves,
// byte swaps).
func FoldALU(op asm.ALUOp, dst, src uint64, is32 bool) (uint64, bool) {
	var v uint64
	switch op {
	case asm.Add:
		v = dst + src
	case asm.Sub:
		v = dst - src
	case asm.Mul:
		v = dst * src
	case asm.Or:
		v = dst | src
	case asm.And:
		v = dst & src
	case asm.Xor:
		v = dst ^ src
	case asm.LSh:
		if is32 {
			v = uint64(uint32(dst) << (src & 31))
		} else {
			v = dst << (src & 63)
		}
	case asm.RSh:
		if is32 {
			v = uint64(uint32(dst) >> (src & 31))
		} else {
			v = dst >> (src & 63)
		}
	case asm.Neg:
		v = -dst
	default:
		return 0, false
	}
	if is32 {
		v = uint64(uint32(v))
	}
	return v, true
}
