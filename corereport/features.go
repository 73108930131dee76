package corereport

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/corerelo"
)

// This file predicts the failures a kernel's BTF shows beyond CO-RE: BPF
// helpers (enum bpf_func_id), program, attach and map types (enum
// bpf_prog_type, bpf_attach_type, bpf_map_type), kfuncs (BTF FUNC entries
// tagged bpf_kfunc) and attach targets (FUNC entries for kprobes and fentry,
// btf_trace_* typedefs and trace_event_raw_* structs for tracepoints).
// Every check is a name lookup in the kernel's BTF, so it costs microseconds
// once the BTF is parsed. The kernel's enums are append-only UAPI: a kernel
// has helper 181 (bpf_loop) exactly when its enum bpf_func_id has a value 181.
//
// What BTF cannot tell is reported as unknown, never guessed: a kprobe on a
// function BTF lacks (kprobes reach any kallsyms symbol; BTF leaves out static
// functions with inconsistent prototypes, and inlined ones have no symbol at
// all), a FUNC in BTF not tagged bpf_kfunc (kfunc registration lives in
// .BTF_ids, not in BTF), or a kernel whose BTF lacks the enums altogether.
// Not predicted at all: whether a helper is allowed for the program's type,
// verifier limits, and module BTF (only vmlinux is consulted).

// Verdict is a predicted outcome: of one finding, or of one program on one
// kernel (the worst of its findings: fails, then unknown, then loads).
type Verdict string

// The verdicts.
const (
	// Loads: nothing the kernel's BTF shows stops the program.
	Loads Verdict = "loads"
	// Fails: the kernel's BTF shows the program cannot load (or attach).
	Fails Verdict = "fails"
	// Unknown: BTF does not settle it; the finding's Detail says why.
	Unknown Verdict = "unknown"
)

// worse reports whether v is a worse outcome than w.
func (v Verdict) worse(w Verdict) bool {
	rank := map[Verdict]int{Loads: 0, Unknown: 1, Fails: 2}
	return rank[v] > rank[w]
}

// Check names what a finding is about.
type Check string

// The checks.
const (
	// CheckCORE: the program's CO-RE relocations (see Program.Fixups).
	CheckCORE Check = "core"
	// CheckProgType: the program type, in enum bpf_prog_type.
	CheckProgType Check = "prog_type"
	// CheckAttachType: the expected attach type, in enum bpf_attach_type.
	CheckAttachType Check = "attach_type"
	// CheckMapType: the type of a map the program uses, in enum bpf_map_type.
	CheckMapType Check = "map_type"
	// CheckHelper: a helper the program calls, in enum bpf_func_id.
	CheckHelper Check = "helper"
	// CheckCallback: a function pointer handed to a helper (bpf_loop and
	// friends), which kernels before 5.13 reject.
	CheckCallback Check = "callback"
	// CheckKfunc: a kfunc the program calls, a FUNC of the kernel's BTF.
	CheckKfunc Check = "kfunc"
	// CheckAttachTarget: the function or tracepoint the program attaches to.
	CheckAttachTarget Check = "attach_target"
)

// Stage is when a failure shows: loading the program, or attaching it.
type Stage string

// The stages.
const (
	StageLoad   Stage = "load"
	StageAttach Stage = "attach"
)

// Finding is one thing the analysis established about one program on one
// kernel. A program's findings are a list so that more checks can add their
// own without changing the others; Subject stays the same across kernels so
// that two kernels' findings can be compared (see Diff).
type Finding struct {
	Check Check `json:"check"`
	// Subject names what was checked, e.g. "bpf_loop", "map events",
	// "kprobe vfs_open".
	Subject string  `json:"subject"`
	Verdict Verdict `json:"verdict"`
	// Stage is when a failure would show.
	Stage Stage `json:"stage"`
	// Detail is the evidence: why it fails, why it is unknown, or for a
	// program that loads anyway, why (a fallback, dead code).
	Detail string `json:"detail,omitempty"`
}

// Text is the finding as a table cell: "ok", "ok*" (ok thanks to what
// Detail says: a fallback, dead code), "ABSENT" (the program fails) or
// "unknown".
func (f Finding) Text() string {
	switch f.Verdict {
	case Fails:
		return "ABSENT"
	case Unknown:
		return "unknown"
	}
	if f.Detail != "" {
		return "ok*"
	}
	return "ok"
}

// Options adapt the prediction to how the object is loaded.
type Options struct {
	// MapFallbacks, when set, names per map of an object the type its
	// loader uses instead when the kernel lacks the map's own type (for the
	// probes: probes.MapFallbacks, a ring buffer else a perf event array).
	MapFallbacks func(*ebpf.CollectionSpec) map[string]ebpf.MapType
}

// probeReadFallback is what cilium/ebpf rewrites bpf_probe_read_{kernel,user}
// (5.5) to on kernels without them (its fixupProbeReadKernel).
var probeReadFallback = map[asm.BuiltinFunc]asm.BuiltinFunc{
	asm.FnProbeReadKernel:    asm.FnProbeRead,
	asm.FnProbeReadUser:      asm.FnProbeRead,
	asm.FnProbeReadKernelStr: asm.FnProbeReadStr,
	asm.FnProbeReadUserStr:   asm.FnProbeReadStr,
}

// kernelFeatures is what one kernel's BTF says it supports.
type kernelFeatures struct {
	spec *btf.Spec
	// The UAPI enums, value to name; nil when the BTF lacks the enum.
	helpers, progTypes, attachTypes, mapTypes map[uint64]string
}

// partial reports whether the BTF lacks every UAPI enum: not a whole
// kernel's BTF (a test's synthetic types, a btfgen-reduced file) but just
// the types CO-RE needs, so only CO-RE can be checked.
func (k *kernelFeatures) partial() bool {
	return k.helpers == nil && k.progTypes == nil && k.attachTypes == nil && k.mapTypes == nil
}

// partialNote is the Result note for a partial BTF.
const partialNote = "the BTF has no enum bpf_func_id, bpf_prog_type, bpf_attach_type or bpf_map_type " +
	"(not a whole kernel's BTF): only CO-RE relocations were checked"

// newKernelFeatures reads the UAPI enums of kernel.
func newKernelFeatures(kernel *btf.Spec) *kernelFeatures {
	return &kernelFeatures{
		spec:        kernel,
		helpers:     enumValues(kernel, "bpf_func_id"),
		progTypes:   enumValues(kernel, "bpf_prog_type"),
		attachTypes: enumValues(kernel, "bpf_attach_type"),
		mapTypes:    enumValues(kernel, "bpf_map_type"),
	}
}

// enumValues maps the values of the enum called name to their names, leaving
// out the __MAX sentinels; nil when kernel has no such enum.
func enumValues(kernel *btf.Spec, name string) map[uint64]string {
	var e *btf.Enum
	if err := kernel.TypeByName(name, &e); err != nil {
		return nil
	}
	out := make(map[uint64]string, len(e.Values))
	for _, v := range e.Values {
		if !strings.HasPrefix(v.Name, "__") {
			out[v.Value] = v.Name
		}
	}
	return out
}

// helperName is a helper's C name, e.g. "bpf_loop" for asm.FnLoop.
func helperName(fn asm.BuiltinFunc) string {
	s := strings.TrimPrefix(fn.String(), "Fn")
	if strings.HasPrefix(s, "BuiltinFunc(") {
		return fmt.Sprintf("helper #%d", uint32(fn))
	}
	var b strings.Builder
	b.WriteString("bpf")
	for i, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		} else if unicode.IsDigit(r) && i > 0 && !unicode.IsDigit(rune(s[i-1])) {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// checkProgram runs every check of this file on prog, whose relocated
// instructions are insns with live[i] telling whether the verifier can reach
// insns[i]. Calls and map uses in dead code are not held against the kernel.
func (k *kernelFeatures) checkProgram(spec *ebpf.CollectionSpec, prog *ebpf.ProgramSpec, insns asm.Instructions, live []bool, opts Options) []Finding {
	if k.partial() {
		return nil
	}
	var out []Finding
	out = append(out, k.checkProgType(prog)...)
	out = append(out, k.checkAttachTarget(prog)...)

	var fallbacks map[string]ebpf.MapType
	if opts.MapFallbacks != nil {
		fallbacks = opts.MapFallbacks(spec)
	}
	seenHelper := map[asm.BuiltinFunc]bool{}
	seenMap := map[string]bool{}
	seenKfunc := map[string]bool{}
	deadHelper := map[asm.BuiltinFunc]bool{}
	callback := false
	for i := range insns {
		ins := &insns[i]
		switch {
		case ins.IsBuiltinCall() && !corerelo.IsPoisoned(ins):
			fn := asm.BuiltinFunc(ins.Constant)
			if live[i] {
				seenHelper[fn] = true
			} else {
				deadHelper[fn] = true
			}
		case !live[i]:
		case ins.IsKfuncCall():
			seenKfunc[ins.Reference()] = true
		case ins.IsLoadOfFunctionPointer():
			callback = true
		case ins.IsLoadFromMap() && ins.Reference() != "":
			seenMap[ins.Reference()] = true
		}
	}

	for _, fn := range sortedKeys(seenHelper) {
		out = append(out, k.checkHelper(fn))
	}
	for _, fn := range sortedKeys(deadHelper) {
		if seenHelper[fn] || k.helpers == nil {
			continue
		}
		if _, ok := k.helpers[uint64(fn)]; !ok {
			out = append(out, Finding{Check: CheckHelper, Subject: helperName(fn), Verdict: Loads, Stage: StageLoad,
				Detail: "not in this kernel, but only called behind a CO-RE check that is false here (dead code)"})
		}
	}
	if callback {
		out = append(out, k.checkCallback())
	}
	for _, name := range sortedKeys(seenKfunc) {
		out = append(out, k.checkKfunc(name))
	}
	for _, name := range sortedKeys(seenMap) {
		if m := spec.Maps[name]; m != nil {
			out = append(out, k.checkMapType(name, m.Type, fallbacks[name]))
		}
	}
	return out
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

// missingEnum is the finding for a kernel whose BTF lacks a UAPI enum.
func missingEnum(c Check, subject, enum string) Finding {
	return Finding{Check: c, Subject: subject, Verdict: Unknown, Stage: StageLoad,
		Detail: "the kernel's BTF has no enum " + enum}
}

func (k *kernelFeatures) checkProgType(prog *ebpf.ProgramSpec) []Finding {
	out := []Finding{checkEnumMember(CheckProgType, "program type", prog.Type.String(), uint64(prog.Type), k.progTypes, "bpf_prog_type")}
	// AttachNone is 0, which is also BPF_CGROUP_INET_INGRESS: only a
	// non-zero attach type says something.
	if prog.AttachType == ebpf.AttachNone {
		return out
	}
	return append(out, checkEnumMember(CheckAttachType, "attach type", prog.AttachType.String(), uint64(prog.AttachType), k.attachTypes, "bpf_attach_type"))
}

// checkEnumMember says whether value (named name, a "program type" or an
// "attach type") is in the kernel's enum, given as the set of its values
// (nil when the kernel's BTF lacks the enum).
func checkEnumMember(c Check, what, name string, value uint64, set map[uint64]string, enum string) Finding {
	subject := what + " " + name
	if set == nil {
		return missingEnum(c, subject, enum)
	}
	if _, ok := set[value]; !ok {
		return Finding{Check: c, Subject: subject, Verdict: Fails, Stage: StageLoad,
			Detail: fmt.Sprintf("%s %s (%d) is not in this kernel's enum %s", what, name, value, enum)}
	}
	return Finding{Check: c, Subject: subject, Verdict: Loads, Stage: StageLoad}
}

func (k *kernelFeatures) checkHelper(fn asm.BuiltinFunc) Finding {
	f := Finding{Check: CheckHelper, Subject: helperName(fn), Stage: StageLoad, Verdict: Loads}
	if k.helpers == nil {
		return missingEnum(CheckHelper, f.Subject, "bpf_func_id")
	}
	if _, ok := k.helpers[uint64(fn)]; ok {
		return f
	}
	if alt, ok := probeReadFallback[fn]; ok {
		if _, ok := k.helpers[uint64(alt)]; ok {
			f.Detail = fmt.Sprintf("not in this kernel; cilium/ebpf rewrites it to %s", helperName(alt))
			return f
		}
	}
	f.Verdict = Fails
	f.Detail = fmt.Sprintf("helper %s (%d) is not in this kernel's enum bpf_func_id", f.Subject, uint32(fn))
	return f
}

// checkCallback checks a function pointer handed to a helper. Callbacks
// (BPF_PSEUDO_FUNC) came in 5.13 with bpf_for_each_map_elem, the first helper
// taking one: a kernel whose enum bpf_func_id lacks that helper rejects them.
func (k *kernelFeatures) checkCallback() Finding {
	f := Finding{Check: CheckCallback, Subject: "callback function pointer", Stage: StageLoad, Verdict: Loads}
	if k.helpers == nil {
		return missingEnum(CheckCallback, f.Subject, "bpf_func_id")
	}
	if _, ok := k.helpers[uint64(asm.FnForEachMapElem)]; !ok {
		f.Verdict = Fails
		f.Detail = "callback function pointers (BPF_PSEUDO_FUNC) came with bpf_for_each_map_elem in 5.13, which this kernel lacks"
	}
	return f
}

func (k *kernelFeatures) checkKfunc(name string) Finding {
	f := Finding{Check: CheckKfunc, Subject: name, Stage: StageLoad}
	var fn *btf.Func
	err := k.spec.TypeByName(name, &fn)
	switch {
	case errors.Is(err, btf.ErrNotFound):
		f.Verdict = Fails
		f.Detail = fmt.Sprintf("kfunc %s is not in this kernel's BTF", name)
	case err != nil:
		f.Verdict = Unknown
		f.Detail = fmt.Sprintf("kfunc %s: %v", name, err)
	case hasTag(fn.Tags, "bpf_kfunc"):
		f.Verdict = Loads
	default:
		f.Verdict = Unknown
		f.Detail = fmt.Sprintf("%s is in BTF but not tagged bpf_kfunc: whether it is a kfunc for this program type is not in BTF", name)
	}
	return f
}

func hasTag(tags []string, want string) bool {
	return slices.Contains(tags, want)
}

func (k *kernelFeatures) checkMapType(name string, typ, fallback ebpf.MapType) Finding {
	f := Finding{Check: CheckMapType, Subject: "map " + name, Stage: StageLoad, Verdict: Loads}
	if k.mapTypes == nil {
		return missingEnum(CheckMapType, f.Subject, "bpf_map_type")
	}
	if _, ok := k.mapTypes[uint64(typ)]; ok {
		return f
	}
	if fallback != ebpf.UnspecifiedMap {
		if _, ok := k.mapTypes[uint64(fallback)]; ok {
			f.Detail = fmt.Sprintf("no %s in this kernel; the loader falls back to %s", typ, fallback)
			return f
		}
	}
	f.Verdict = Fails
	f.Detail = fmt.Sprintf("map %s: type %s (%d) is not in this kernel's enum bpf_map_type", name, typ, uint32(typ))
	return f
}

// kprobeUnknown explains why a kprobe target missing from BTF is not a
// predicted failure.
const kprobeUnknown = "is not in this kernel's BTF, but kprobes also reach functions BTF leaves out " +
	"(static ones with inconsistent prototypes, compiler-renamed copies); only kallsyms can tell, and it is not in the image's BTF"

// checkAttachTarget checks the function or tracepoint prog attaches to, as
// named by its ELF section (prog.AttachTo).
func (k *kernelFeatures) checkAttachTarget(prog *ebpf.ProgramSpec) []Finding {
	target := prog.AttachTo
	if target == "" {
		return nil
	}
	kind, _, _ := strings.Cut(prog.SectionName, "/")
	f := Finding{Check: CheckAttachTarget, Verdict: Loads}
	switch {
	case prog.Type == ebpf.Kprobe && (kind == "kprobe" || kind == "kretprobe"):
		fn, _, _ := strings.Cut(target, "+")
		f.Subject, f.Stage = kind+" "+fn, StageAttach
		if !k.hasFunc(fn) {
			f.Verdict, f.Detail = Unknown, fn+" "+kprobeUnknown
		}
	case prog.Type == ebpf.TracePoint:
		_, name, _ := strings.Cut(target, "/")
		f.Subject, f.Stage = "tracepoint "+target, StageAttach
		if !k.hasTracepoint(name) {
			f.Verdict, f.Detail = k.tracepointMissing(name)
		}
	case prog.Type == ebpf.RawTracepoint || prog.Type == ebpf.RawTracepointWritable:
		f.Subject, f.Stage = "raw tracepoint "+target, StageAttach
		if !k.hasTracepoint(target) {
			f.Verdict, f.Detail = k.tracepointMissing(target)
		}
	case prog.Type == ebpf.Tracing && prog.AttachType == ebpf.AttachTraceRawTp:
		f.Subject, f.Stage = "tp_btf "+target, StageLoad
		if !k.hasTypedef("btf_trace_" + target) {
			f.Verdict, f.Detail = Fails, "no typedef btf_trace_"+target+" in this kernel's BTF: the loader cannot resolve the tracepoint"
		}
	case prog.Type == ebpf.Tracing || prog.Type == ebpf.LSM:
		fn := target
		switch {
		case prog.Type == ebpf.LSM:
			fn = "bpf_lsm_" + target
		case prog.AttachType == ebpf.AttachTraceIter:
			fn = "bpf_iter_" + target
		}
		f.Subject, f.Stage = strings.SplitN(prog.SectionName, "/", 2)[0]+" "+target, StageLoad
		switch {
		case !k.hasFunc(fn):
			f.Verdict, f.Detail = Fails, fn+" is not in this kernel's BTF (vmlinux): the loader cannot resolve the target"
		case needsTrampoline(prog) && k.isARM64() && !k.hasStruct("bpf_plt"):
			f.Verdict, f.Stage, f.Detail = Fails, StageAttach, arm64NoTrampoline
		}
	default:
		return nil
	}
	return []Finding{f}
}

// arm64NoTrampoline explains the verdict for a trampoline program on an
// arm64 kernel before 6.0.
const arm64NoTrampoline = "BPF trampolines (fentry, fexit, fmod_ret, lsm) reached arm64 in 6.0: this arm64 kernel " +
	"(its BTF has user_pt_regs) lacks bpf_plt, the arm64 JIT's trampoline support, so attaching fails (ENOTSUPP)"

// needsTrampoline reports whether prog attaches through a BPF trampoline.
func needsTrampoline(prog *ebpf.ProgramSpec) bool {
	if prog.Type == ebpf.LSM {
		return true
	}
	if prog.Type != ebpf.Tracing {
		return false
	}
	switch prog.AttachType {
	case ebpf.AttachTraceFEntry, ebpf.AttachTraceFExit, ebpf.AttachModifyReturn:
		return true
	}
	return false
}

// isARM64 reports whether the kernel is an arm64 one: its BTF has the
// arm64 UAPI register set, struct user_pt_regs (x86 has none).
func (k *kernelFeatures) isARM64() bool { return k.hasStruct("user_pt_regs") }

func (k *kernelFeatures) hasStruct(name string) bool {
	var st *btf.Struct
	err := k.spec.TypeByName(name, &st)
	return err == nil || errors.Is(err, btf.ErrMultipleMatches)
}

func (k *kernelFeatures) hasFunc(name string) bool {
	var fn *btf.Func
	err := k.spec.TypeByName(name, &fn)
	return err == nil || errors.Is(err, btf.ErrMultipleMatches)
}

func (k *kernelFeatures) hasTypedef(name string) bool {
	var td *btf.Typedef
	err := k.spec.TypeByName(name, &td)
	return err == nil || errors.Is(err, btf.ErrMultipleMatches)
}

// hasTracepoint reports whether the kernel defines tracepoint name: every
// tracepoint has a typedef btf_trace_<name> (5.5+), and one defined with
// TRACE_EVENT also a struct trace_event_raw_<name>.
func (k *kernelFeatures) hasTracepoint(name string) bool {
	if k.hasTypedef("btf_trace_" + name) {
		return true
	}
	var s *btf.Struct
	return k.spec.TypeByName("trace_event_raw_"+name, &s) == nil
}

// tracepointMissing is the verdict for a tracepoint hasTracepoint did not
// find: a failure when the kernel has btf_trace_* typedefs at all (it would
// have one for this tracepoint), unknown otherwise.
func (k *kernelFeatures) tracepointMissing(name string) (Verdict, string) {
	if k.hasTypedef("btf_trace_sched_switch") {
		return Fails, "no tracepoint " + name + " in this kernel: neither typedef btf_trace_" + name +
			" nor struct trace_event_raw_" + name + " in its BTF (vmlinux; a module's tracepoint would be in the module's BTF)"
	}
	return Unknown, "this kernel's BTF has no btf_trace_* typedefs (before 5.5?), so tracepoint " + name + " cannot be checked"
}

// verdictOf is the program verdict of findings: the worst one, and the
// details of the findings with that verdict.
func verdictOf(findings []Finding, stage Stage) (Verdict, string) {
	v := Loads
	for _, f := range findings {
		if (stage == "" || f.Stage == stage) && f.Verdict.worse(v) {
			v = f.Verdict
		}
	}
	if v == Loads {
		return v, ""
	}
	var why []string
	for _, f := range findings {
		if (stage == "" || f.Stage == stage) && f.Verdict == v {
			d := f.Detail
			if f.Stage == StageAttach {
				d = "attach: " + d
			}
			if !slices.Contains(why, d) {
				why = append(why, d)
			}
		}
	}
	return v, strings.Join(why, "; ")
}
