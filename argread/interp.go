package argread

import (
	"fmt"
	"maps"
	"math/bits"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/corerelo"
)

// This file is an abstract interpreter over one program's control-flow
// graph: a worklist of instructions, an abstract state per instruction
// (registers and every stack frame), joined where paths meet until nothing
// changes. It tracks where the context pointer goes (registers, r6-r9
// across calls, stack spills and fills, subprogram arguments), which
// context loads are argument reads, where each read's value flows (taint
// through ALU operations, spills, subprogram arguments and return values),
// and which of those values reach a use: a helper or kfunc argument, a
// store to memory other than the stack, a dereference, a branch condition,
// the program's return value. Constants are propagated (CO-RE existence
// checks are constants once relocated for a kernel), so a branch on a
// known constant has one live side.

// maxReads bounds the distinct argument reads of one program the taint sets
// can hold.
const maxReads = 256

// maxSteps bounds the work on one program (instructions interpreted,
// subprograms included); past it the analysis gives up on the program.
const maxSteps = 2_000_000

// maxDepth is the verifier's limit on nested BPF-to-BPF calls.
const maxDepth = 8

// taint is the set of reads (by index into analysis.sites) a value derives
// from.
type taint [maxReads / 64]uint64

func (t *taint) add(i int) { t[i/64] |= 1 << (i % 64) }
func (t *taint) union(o taint) {
	for i := range t {
		t[i] |= o[i]
	}
}
func (t taint) empty() bool { return t == taint{} }
func (t taint) each(f func(i int)) {
	for w, bitsw := range t {
		for bitsw != 0 {
			b := bits.TrailingZeros64(bitsw)
			f(w*64 + b)
			bitsw &^= 1 << b
		}
	}
}

// kind is what the interpreter knows about a value besides its taint.
type kind uint8

const (
	kUnknown  kind = iota
	kConst         // off holds the value
	kCtx           // the context pointer plus off
	kCtxVar        // the context pointer plus an unknown offset
	kStack         // frame pointer of frame plus off
	kStackVar      // a pointer into frame at an unknown offset
	kMap           // a map pointer (name)
	kFunc          // a function pointer (name: the symbol)
)

// value is an abstract register or stack slot.
type value struct {
	kind  kind
	frame int
	off   int64
	name  string
	// core: the context offset came from a CO-RE relocation of pt_regs.
	core  bool
	taint taint
}

func (v value) isCtx() bool { return v.kind == kCtx || v.kind == kCtxVar }

// join is the least upper bound of two values.
func join(a, b value) value {
	t := a.taint
	t.union(b.taint)
	switch {
	case a.kind == b.kind && a.frame == b.frame && a.off == b.off && a.name == b.name:
		a.core = a.core || b.core
		a.taint = t
		return a
	case (a.kind == kCtx || a.kind == kCtxVar) && (b.kind == kCtx || b.kind == kCtxVar):
		return value{kind: kCtxVar, taint: t}
	case (a.kind == kStack || a.kind == kStackVar) && (b.kind == kStack || b.kind == kStackVar) && a.frame == b.frame:
		return value{kind: kStackVar, frame: a.frame, taint: t}
	}
	return value{kind: kUnknown, taint: t}
}

// frame is one stack frame: 8-byte slots by offset from the frame pointer
// (negative). A slot never written is absent: the verifier rejects a read of
// uninitialised stack, so at a join the written side's value stands.
type frame map[int64]value

// state is the abstract machine state before one instruction.
type state struct {
	regs   [asm.R10 + 1]value
	frames []frame
}

// frame returns frame d, nil when d is not a live frame (a pointer into the
// stack of a subprogram that has returned).
func (s *state) frame(d int) frame {
	if d < 0 || d >= len(s.frames) {
		return nil
	}
	return s.frames[d]
}

func (s *state) clone() *state {
	c := &state{regs: s.regs, frames: make([]frame, len(s.frames))}
	for i, f := range s.frames {
		c.frames[i] = maps.Clone(f)
	}
	return c
}

// joinInto joins o into s and reports whether s changed.
func (s *state) joinInto(o *state) bool {
	changed := false
	for i := range s.regs {
		if j := join(s.regs[i], o.regs[i]); j != s.regs[i] {
			s.regs[i], changed = j, true
		}
	}
	for d := range min(len(s.frames), len(o.frames)) {
		sf, of := s.frames[d], o.frames[d]
		for off, ov := range of {
			sv, ok := sf[off]
			if !ok {
				sf[off], changed = ov, true
				continue
			}
			if j := join(sv, ov); j != sv {
				sf[off], changed = j, true
			}
		}
	}
	return changed
}

// site is one argument read found by the interpreter.
type site struct {
	insn int
	// off is the byte offset read in the context (8-aligned).
	off  int64
	core bool
	// fn is the subprogram holding insn, "" for the program's own body.
	fn string
	// helper is the helper that read it (bpf_probe_read_kernel), "" for a
	// load.
	helper string
}

// problem is something the analysis cannot follow, at an instruction (-1:
// the whole program).
type problem struct {
	insn int
	why  string
}

// analysis interprets one program (relocated for one kernel, or as
// compiled).
type analysis struct {
	insns   asm.Instructions
	tracing bool // fentry/fexit: ctx is an array of u64
	abi     *abi // the kprobe context's registers
	maps    map[string]*ebpf.MapSpec
	// rawToIdx and rawOf convert between raw offsets and indices; symbols
	// maps a function symbol to its first instruction.
	rawToIdx map[int]int
	rawOf    []int
	symbols  map[string]int
	funcOf   []string
	// coreOff is, per instruction carrying a CO-RE relocation of a
	// pt_regs argument field, the field's ptrace-ABI offset.
	coreOff map[int]int64

	sites    []site
	siteIdx  map[[2]int64]int
	used     []bool
	reached  []bool
	touched  bool // the context was used at all
	problems []problem
	steps    int
	gaveUp   bool
}

func newAnalysis(insns asm.Instructions, local *btf.Spec, tracing bool, mapSpecs map[string]*ebpf.MapSpec) (*analysis, error) {
	n := len(insns)
	a := &analysis{
		insns: insns, tracing: tracing, maps: mapSpecs, abi: abiOf(local),
		rawToIdx: make(map[int]int, n), rawOf: make([]int, n),
		symbols: map[string]int{}, funcOf: make([]string, n),
		coreOff: map[int]int64{}, siteIdx: map[[2]int64]int{},
		reached: make([]bool, n),
	}
	raw := 0
	fn := ""
	for i := range insns {
		a.rawToIdx[raw] = i
		a.rawOf[i] = raw
		if sym := insns[i].Symbol(); sym != "" {
			a.symbols[sym] = i
			if i > 0 {
				fn = sym
			}
		}
		a.funcOf[i] = fn
		raw += int(insns[i].Width())
		if tracing {
			continue
		}
		relo := btf.CORERelocationMetadata(&insns[i])
		if relo == nil {
			continue
		}
		d, err := corerelo.Describe(relo, local)
		if err != nil {
			return nil, err
		}
		path, isMember := strings.CutPrefix(d.Access, d.Type+".")
		if off, ok := a.abi.coreOffset(d.Type, path); ok && isMember && d.Kind == corerelo.FieldByteOffset {
			a.coreOff[i] = off
		}
	}
	return a, nil
}

func (a *analysis) problem(insn int, format string, args ...any) {
	why := fmt.Sprintf(format, args...)
	for _, p := range a.problems {
		if p.insn == insn && p.why == why {
			return
		}
	}
	a.problems = append(a.problems, problem{insn, why})
}

// read records a read of the context at byte offset off by instruction
// insn and returns its taint; the zero taint when off holds no argument
// (pt_regs.ip, for example).
func (a *analysis) read(insn int, off int64, core bool, helper string) taint {
	var t taint
	off &^= 7 // a narrower load reads the low bytes
	if !a.tracing {
		if off < 0 || off > 0x7fff {
			return t
		}
		if _, ok := a.abi.offsets[off]; !ok {
			return t
		}
	} else if off < 0 {
		a.problem(insn, "context read at negative offset %d", off)
		return t
	}
	key := [2]int64{int64(insn), off}
	i, ok := a.siteIdx[key]
	if !ok {
		if len(a.sites) == maxReads {
			a.problem(-1, "more than %d argument reads", maxReads)
			a.gaveUp = true
			return t
		}
		i = len(a.sites)
		a.siteIdx[key] = i
		a.sites = append(a.sites, site{insn: insn, off: off, core: core, fn: a.funcOf[insn], helper: helper})
		a.used = append(a.used, false)
	}
	t.add(i)
	return t
}

// use marks every read in t as reaching a use.
func (a *analysis) use(t taint) {
	t.each(func(i int) { a.used[i] = true })
}

// useFrom marks the reads held in frame d's slots in [lo, hi) as used.
func (a *analysis) useFrom(st *state, d int, lo, hi int64) {
	if d < 0 || d >= len(st.frames) {
		return
	}
	for off, v := range st.frames[d] {
		if off+8 > lo && off < hi {
			a.use(v.taint)
			if v.isCtx() {
				a.touched = true
			}
		}
	}
}

// run interprets the whole program from its first instruction.
func (a *analysis) run() {
	if len(a.insns) == 0 {
		return
	}
	st := &state{frames: []frame{{}}}
	st.regs[asm.R1] = value{kind: kCtx}
	st.regs[asm.R10] = value{kind: kStack, frame: 0}
	out, ok := a.function(0, st, 0)
	if ok {
		// The program's return value is a use (fmod_ret, kprobe override).
		a.use(out.regs[asm.R0].taint)
	}
}

// function interprets the function starting at entry with the state in,
// and returns the state joined over its exits (ok false when no exit is
// reachable).
func (a *analysis) function(entry int, in *state, depth int) (*state, bool) {
	states := map[int]*state{entry: in.clone()}
	work := []int{entry}
	var out *state
	push := func(i int, s *state) {
		if i < 0 || i >= len(a.insns) {
			a.problem(-1, "jump outside the program")
			a.gaveUp = true
			return
		}
		if cur, ok := states[i]; ok {
			if cur.joinInto(s) {
				work = append(work, i)
			}
			return
		}
		states[i] = s.clone()
		work = append(work, i)
	}
	for len(work) > 0 && !a.gaveUp {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		a.steps++
		if a.steps > maxSteps {
			a.problem(-1, "analysis exceeded %d steps", maxSteps)
			a.gaveUp = true
			break
		}
		a.reached[i] = true
		st := states[i].clone()
		succ, exit := a.step(i, st, depth)
		if exit {
			if out == nil {
				out = st.clone()
			} else {
				out.joinInto(st)
			}
			continue
		}
		for _, j := range succ {
			push(j, st)
		}
	}
	return out, out != nil
}

// target resolves the jump of instruction i by off raw slots.
func (a *analysis) target(i, off int) int {
	if ref := a.insns[i].Reference(); ref != "" && !a.insns[i].IsFunctionCall() {
		if t, ok := a.symbols[ref]; ok {
			return t
		}
	}
	t, ok := a.rawToIdx[a.rawOf[i]+int(a.insns[i].Width())+off]
	if !ok {
		return -1
	}
	return t
}

// step applies instruction i to st and returns its successors; exit is true
// at an exit instruction.
func (a *analysis) step(i int, st *state, depth int) (succ []int, exit bool) {
	ins := &a.insns[i]
	if corerelo.IsPoisoned(ins) {
		return nil, false // the verifier rejects the program here
	}
	next := []int{i + 1}
	switch class := ins.OpCode.Class(); {
	case class.IsALU():
		a.alu(i, st, class == asm.ALUClass)
	case class == asm.LdClass:
		switch {
		case ins.IsLoadOfFunctionPointer():
			st.regs[ins.Dst] = value{kind: kFunc, name: ins.Reference()}
		case ins.IsLoadFromMap():
			st.regs[ins.Dst] = value{kind: kMap, name: ins.Reference()}
		case ins.IsConstantLoad(asm.DWord):
			st.regs[ins.Dst] = value{kind: kConst, off: ins.Constant}
		case ins.OpCode.IsDWordLoad():
			st.regs[ins.Dst] = value{}
		default: // legacy packet access clobbers like a call
			for r := asm.R0; r <= asm.R5; r++ {
				st.regs[r] = value{}
			}
		}
	case class == asm.LdXClass:
		a.load(i, st)
	case class == asm.StClass || class == asm.StXClass:
		a.store(i, st)
	case class.IsJump():
		op := ins.OpCode.JumpOp()
		switch op {
		case asm.Exit:
			return nil, true
		case asm.Call:
			if !a.call(i, st, depth) {
				return nil, false
			}
		case asm.Ja:
			off := int(ins.Offset)
			if class == asm.Jump32Class {
				off = int(ins.Constant)
			}
			return []int{a.target(i, off)}, false
		default:
			d := st.regs[ins.Dst]
			a.use(d.taint)
			s := value{kind: kConst, off: ins.Constant}
			if ins.OpCode.Source() == asm.RegSource {
				s = st.regs[ins.Src]
				a.use(s.taint)
			}
			if d.isCtx() || s.isCtx() {
				a.touched = true
			}
			taken, known := evalJump(d, s, ins.OpCode.JumpOp(), class == asm.Jump32Class)
			t := a.target(i, int(ins.Offset))
			switch {
			case !known:
				next = []int{i + 1, t}
			case taken:
				next = []int{t}
			}
		}
	}
	return next, false
}

// alu applies an ALU instruction.
func (a *analysis) alu(i int, st *state, is32 bool) {
	ins := &a.insns[i]
	op := ins.OpCode.ALUOp()
	dst := st.regs[ins.Dst]
	src := value{kind: kConst, off: ins.Constant}
	if off, ok := a.coreOff[i]; ok {
		src.off, src.core = off, true
	}
	if ins.OpCode.Source() == asm.RegSource && op != asm.Swap {
		src = st.regs[ins.Src]
	}
	t := dst.taint
	t.union(src.taint)
	res := value{taint: t}
	switch {
	case op == asm.Mov && ins.Offset == 0 && !is32:
		res = src
	case op == asm.Mov:
		res = value{taint: src.taint}
		if src.kind == kConst {
			res = value{kind: kConst, off: truncate(src.off, is32, ins.Offset)}
		}
		if src.isCtx() {
			a.touched = true
		}
	case dst.kind == kConst && src.kind == kConst:
		if v, ok := corerelo.FoldALU(op, uint64(dst.off), uint64(src.off), is32); ok {
			res = value{kind: kConst, off: int64(v)}
		}
	case !is32 && (op == asm.Add || op == asm.Sub) && (dst.kind == kCtx || dst.kind == kStack) && src.kind == kConst:
		res = dst
		if op == asm.Add {
			res.off += src.off
		} else {
			res.off -= src.off
		}
		res.core = dst.core || src.core
		res.taint = t
	case !is32 && op == asm.Add && dst.kind == kConst && (src.kind == kCtx || src.kind == kStack):
		res = src
		res.off += dst.off
		res.core = dst.core || src.core
		res.taint = t
	case !is32 && (op == asm.Add || op == asm.Sub) && (dst.isCtx() || src.isCtx()):
		res = value{kind: kCtxVar, taint: t}
	case !is32 && (op == asm.Add || op == asm.Sub) && (dst.kind == kStack || dst.kind == kStackVar):
		res = value{kind: kStackVar, frame: dst.frame, taint: t}
	default:
		if dst.isCtx() || src.isCtx() {
			a.touched = true
			a.problem(i, "context pointer used in arithmetic the analysis does not follow")
		}
	}
	st.regs[ins.Dst] = res
}

// truncate applies a 32-bit or sign-extending move to a constant.
func truncate(v int64, is32 bool, sx int16) int64 {
	switch sx {
	case 8:
		v = int64(int8(v))
	case 16:
		v = int64(int16(v))
	case 32:
		v = int64(int32(v))
	}
	if is32 {
		v = int64(uint32(v))
	}
	return v
}

// evalJump decides a conditional jump on known constants.
func evalJump(d, s value, op asm.JumpOp, is32 bool) (taken, known bool) {
	if d.kind != kConst || s.kind != kConst {
		return false, false
	}
	dst, src := uint64(d.off), uint64(s.off)
	sdst, ssrc := d.off, s.off
	if is32 {
		dst, src = uint64(uint32(dst)), uint64(uint32(src))
		sdst, ssrc = int64(int32(dst)), int64(int32(src))
	}
	switch op {
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

// load applies a memory load (LdX).
func (a *analysis) load(i int, st *state) {
	ins := &a.insns[i]
	base := st.regs[ins.Src]
	var res value
	switch base.kind {
	case kCtx:
		a.touched = true
		off := base.off + int64(ins.Offset)
		core := base.core
		if c, ok := a.coreOff[i]; ok {
			off, core = base.off+c, true
		}
		res.taint = a.read(i, off, core, "")
	case kCtxVar:
		a.touched = true
		a.problem(i, "context read at an offset computed at run time")
	case kStack:
		off := base.off + int64(ins.Offset)
		v, ok := st.frame(base.frame)[off&^7]
		switch {
		case !ok:
		case ins.OpCode.Size() == asm.DWord && off%8 == 0:
			res = v
		default:
			res.taint = v.taint
			if v.isCtx() {
				a.touched = true
				a.problem(i, "part of a spilled context pointer loaded")
			}
		}
	case kStackVar:
		for _, v := range st.frame(base.frame) {
			res.taint.union(v.taint)
			if v.isCtx() {
				a.touched = true
				a.problem(i, "stack holding the context read at a computed offset")
			}
		}
	default:
		// A dereference of a read's value is a use of it.
		a.use(base.taint)
	}
	st.regs[ins.Dst] = res
}

// store applies a memory store (St, StX, atomics).
func (a *analysis) store(i int, st *state) {
	ins := &a.insns[i]
	base := st.regs[ins.Dst]
	val := value{kind: kConst, off: ins.Constant}
	if ins.OpCode.Class() == asm.StXClass {
		val = st.regs[ins.Src]
	}
	atomic := ins.OpCode.Mode() == asm.AtomicMode
	size := int64(ins.OpCode.Size().Sizeof())
	switch base.kind {
	case kStack:
		off := base.off + int64(ins.Offset)
		f := st.frame(base.frame)
		if f == nil {
			a.use(val.taint)
			break
		}
		if size == 8 && off%8 == 0 && !atomic {
			f[off] = val
			break
		}
		old := f[off&^7]
		nv := value{taint: old.taint}
		nv.taint.union(val.taint)
		if val.isCtx() {
			a.touched = true
			a.problem(i, "part of the context pointer stored")
		}
		f[off&^7] = nv
	case kStackVar:
		a.use(val.taint)
		if val.isCtx() {
			a.touched = true
			a.problem(i, "context pointer stored at a computed stack offset")
		}
	default:
		a.use(base.taint)
		a.use(val.taint)
		if base.isCtx() {
			a.touched = true
		}
		if val.isCtx() {
			a.touched = true
			a.problem(i, "context pointer stored to memory the analysis does not follow")
		}
	}
	if atomic {
		// Fetching atomics load the old value into src (cmpxchg into r0).
		st.regs[ins.Src] = value{}
		st.regs[asm.R0] = value{}
	}
}

// Helpers the analysis knows more of than their argument count, by id.
const (
	fnMapLookupElem      = 1
	fnMapUpdateElem      = 2
	fnMapDeleteElem      = 3
	fnProbeRead          = 4
	fnTailCall           = 12
	fnGetCurrentComm     = 16
	fnPerfEventOutput    = 25
	fnGetStackid         = 27
	fnProbeReadStr       = 45
	fnOverrideReturn     = 58
	fnGetStack           = 67
	fnPerfProgReadValue  = 68
	fnMapPushElem        = 87
	fnProbeReadUser      = 112
	fnProbeReadKernel    = 113
	fnProbeReadUserStr   = 114
	fnProbeReadKernelStr = 115
	fnReadBranchRecords  = 119
	fnRingbufOutput      = 130
	fnForEachMapElem     = 164
	fnTimerSetCallback   = 170
	fnGetFuncIP          = 173
	fnGetAttachCookie    = 174
	fnFindVMA            = 180
	fnLoop               = 181
	fnGetFuncArg         = 183
	fnGetFuncRet         = 184
	fnGetFuncArgCnt      = 185
	fnUserRingbufDrain   = 209
)

// ctxHelpers take the context itself as their first argument: no argument
// is read through it.
var ctxHelpers = map[int64]bool{
	fnTailCall: true, fnPerfEventOutput: true, fnGetStackid: true, fnOverrideReturn: true,
	fnGetStack: true, fnPerfProgReadValue: true, fnReadBranchRecords: true,
	fnGetFuncIP: true, fnGetAttachCookie: true, fnGetFuncArgCnt: true,
}

// probeReads copy size (r2) bytes from r3 into r1.
var probeReads = map[int64]bool{
	fnProbeRead: true, fnProbeReadStr: true, fnProbeReadUser: true, fnProbeReadKernel: true,
	fnProbeReadUserStr: true, fnProbeReadKernelStr: true,
}

// callbackHelpers call a function passed to them.
var callbackHelpers = map[int64]bool{
	fnForEachMapElem: true, fnTimerSetCallback: true, fnFindVMA: true, fnLoop: true, fnUserRingbufDrain: true,
}

// call applies a call; false when the path ends there (a subprogram that
// never returns).
func (a *analysis) call(i int, st *state, depth int) bool {
	ins := &a.insns[i]
	switch {
	case ins.IsFunctionCall():
		return a.subprogram(i, st, depth)
	case ins.IsKfuncCall():
		for r := asm.R1; r <= asm.R5; r++ {
			v := st.regs[r]
			a.use(v.taint)
			a.stackArg(st, v, 1<<62)
			if v.isCtx() {
				a.touched = true
				a.problem(i, "context passed to a kfunc")
			}
		}
	default:
		a.helper(i, st, depth)
	}
	for r := asm.R0; r <= asm.R5; r++ {
		st.regs[r] = value{}
	}
	return true
}

// stackArg marks as used what a helper may read through v when v points
// into the stack: size bytes from it (1<<62: to the top of the frame).
func (a *analysis) stackArg(st *state, v value, size int64) {
	switch v.kind {
	case kStack:
		hi := int64(0)
		if size < 1<<62 {
			hi = v.off + size
		}
		a.useFrom(st, v.frame, v.off, hi)
	case kStackVar:
		a.useFrom(st, v.frame, -1<<62, 0)
	}
}

// helper applies a call of a BPF helper.
func (a *analysis) helper(i int, st *state, depth int) {
	fn := a.insns[i].Constant
	n, ok := helperArgs[fn]
	if !ok {
		n = 5
	}
	for k := 1; k <= n; k++ {
		v := st.regs[asm.Register(k)]
		a.use(v.taint)
		if v.isCtx() {
			a.touched = true
			a.ctxArg(i, st, k, v)
			continue
		}
		if v.kind != kStack && v.kind != kStackVar {
			continue
		}
		if size, reads := a.stackRead(st, fn, k, v); reads {
			a.stackArg(st, v, size)
		}
		if callbackHelpers[fn] {
			a.useFrom(st, v.frame, -1<<62, 0)
		}
	}
	if callbackHelpers[fn] {
		for k := asm.R1; k <= asm.R5; k++ {
			if v := st.regs[k]; v.kind == kFunc {
				a.callback(i, v.name, depth)
			}
		}
	}
}

// ctxArg applies the context (or a pointer into it), v, passed as argument
// k to the helper called at i: a read when the helper reads from it, a
// problem when the analysis cannot follow what the helper does with it.
func (a *analysis) ctxArg(i int, st *state, k int, v value) {
	fn := a.insns[i].Constant
	name := asm.BuiltinFunc(fn).String()
	switch {
	case k == 1 && ctxHelpers[fn]:
	case k == 3 && probeReads[fn] && v.kind == kCtx:
		t := a.read(i, v.off, v.core, strings.TrimPrefix(name, "Fn"))
		size, known := st.constAt(asm.R2)
		dst := st.regs[asm.R1]
		if f := st.frame(dst.frame); f != nil && dst.kind == kStack && known && size > 0 && size <= 8 && dst.off%8 == 0 {
			f[dst.off] = value{taint: t}
		} else {
			// Copied somewhere the analysis does not follow: count
			// it as used.
			a.use(t)
		}
	case k == 1 && fn == fnGetFuncArg && v.kind == kCtx && a.tracing && st.regs[asm.R2].kind == kConst:
		// bpf_get_func_arg(ctx, n, &value): ctx[n] into *value.
		t := a.read(i, st.regs[asm.R2].off*8, false, "GetFuncArg")
		dst := st.regs[asm.R3]
		if f := st.frame(dst.frame); f != nil && dst.kind == kStack && dst.off%8 == 0 {
			f[dst.off] = value{taint: t}
		} else {
			a.use(t)
		}
	case k == 1 && (fn == fnGetFuncArg || fn == fnGetFuncRet):
		a.problem(i, "%s reads an argument by an index the analysis does not know", helperName(name))
	default:
		a.problem(i, "context passed to %s as argument %d", helperName(name), k)
	}
}

// stackRead returns how many bytes helper fn reads through v, a pointer
// into the stack passed as argument k (1<<62 when unknown); reads is false
// for a destination, which is cleared when the helper writes a known size
// there.
func (a *analysis) stackRead(st *state, fn int64, k int, v value) (size int64, reads bool) {
	m := a.mapOf(st)
	switch {
	case fn == fnGetFuncArg && k == 3, fn == fnGetFuncRet && k == 2:
		// The destination of the argument or return value.
		return 0, false
	case k == 1 && (probeReads[fn] || fn == fnGetCurrentComm):
		// The destination: written, not read.
		if size, known := st.constAt(asm.R2); known && v.kind == kStack {
			for off := v.off &^ 7; off < v.off+size; off += 8 {
				delete(st.frame(v.frame), off)
			}
		}
		return 0, false
	case (fn == fnMapLookupElem || fn == fnMapDeleteElem || fn == fnMapUpdateElem) && k == 2 && m != nil:
		return int64(m.KeySize), true
	case (fn == fnMapUpdateElem && k == 3 || fn == fnMapPushElem && k == 2) && m != nil:
		return int64(m.ValueSize), true
	case fn == fnRingbufOutput && k == 2 || fn == fnPerfEventOutput && k == 4:
		if size, known := st.constAt(asm.Register(k + 1)); known {
			return size, true
		}
	}
	return 1 << 62, true
}

// constAt returns the constant in register r, if it holds one.
func (st *state) constAt(r asm.Register) (int64, bool) {
	v := st.regs[r]
	return v.off, v.kind == kConst
}

// mapOf returns the map in R1 (a helper's map argument), nil when R1 holds
// none.
func (a *analysis) mapOf(st *state) *ebpf.MapSpec {
	if v := st.regs[asm.R1]; v.kind == kMap {
		return a.maps[v.name]
	}
	return nil
}

func helperName(s string) string {
	return "bpf_" + camelToSnake(strings.TrimPrefix(s, "Fn"))
}

func camelToSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// callback interprets a callback a helper calls, with arguments the
// analysis does not know.
func (a *analysis) callback(i int, sym string, depth int) {
	entry, ok := a.symbols[sym]
	if !ok {
		a.problem(i, "callback %s not found", sym)
		return
	}
	if depth+1 >= maxDepth {
		a.problem(i, "calls nested deeper than %d", maxDepth)
		return
	}
	st := &state{frames: []frame{{}}}
	st.regs[asm.R10] = value{kind: kStack, frame: 0}
	// Its frame numbering is its own: it cannot reach the caller's stack
	// except through pointers the analysis already counted as used.
	a.function(entry, st, depth+1)
}

// subprogram applies a BPF-to-BPF call: the callee runs in a new frame with
// r1-r5 as passed, and returns r0; r6-r9 and r10 are the caller's again.
func (a *analysis) subprogram(i int, st *state, depth int) bool {
	ins := &a.insns[i]
	callee := -1
	if ref := ins.Reference(); ref != "" {
		if t, ok := a.symbols[ref]; ok {
			callee = t
		}
	} else {
		callee = a.target(i, int(ins.Constant))
	}
	if callee < 0 {
		a.problem(-1, "call target of instruction %d not found", i)
		a.gaveUp = true
		return false
	}
	if depth+1 >= maxDepth {
		a.problem(i, "calls nested deeper than %d", maxDepth)
		a.gaveUp = true
		return false
	}
	in := &state{regs: st.regs, frames: append(append([]frame(nil), st.frames...), frame{})}
	for r := asm.R6; r <= asm.R9; r++ {
		in.regs[r] = value{}
	}
	in.regs[asm.R0] = value{}
	in.regs[asm.R10] = value{kind: kStack, frame: len(st.frames)}
	out, ok := a.function(callee, in, depth+1)
	if !ok {
		return false
	}
	st.frames = out.frames[:len(st.frames)]
	st.regs[asm.R0] = out.regs[asm.R0]
	for r := asm.R1; r <= asm.R5; r++ {
		st.regs[r] = value{}
	}
	return true
}
