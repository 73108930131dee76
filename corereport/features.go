package corereport

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"unicode"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/corerelo"
	"github.com/corematrix/corematrix/kernels/kallsyms"
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
	// CheckMapFlags: the BPF_F_* creation flags of a map the program uses:
	// known to the kernel, and allowed for the map's type.
	CheckMapFlags Check = "map_flags"
	// CheckMapBTF: what the kernel makes of special fields in a map's BTF
	// value (bpf_spin_lock, bpf_timer, ...).
	CheckMapBTF Check = "map_btf"
	// CheckMapSize: a map's max_entries, which user space may have to set.
	CheckMapSize Check = "map_size"
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

// Facts is what the prediction knows of a kernel besides its BTF. A nil
// field is unknown: the checks it decides say so instead of guessing.
type Facts struct {
	// Config is the kernel's config, option ("CONFIG_FPROBE") to value ("y",
	// "m", a string; "n" for an option the file lists as not set). Debian
	// packages ship it as /boot/config-*; images built with CONFIG_IKCONFIG
	// carry it.
	Config map[string]string
	// Funcs are the functions of the kernel's kallsyms and which of them
	// ftrace can trace (read from the image: kernels.ImageFuncs).
	Funcs *kallsyms.Funcs
}

// config returns the value of option name, "" when the config is unknown
// and "n" when the option is not set (absent from a known config).
func (f *Facts) config(name string) string {
	if f == nil || f.Config == nil {
		return ""
	}
	if v, ok := f.Config[name]; ok {
		return v
	}
	return "n"
}

// funcs returns the kallsyms functions, nil when unknown.
func (f *Facts) funcs() *kallsyms.Funcs {
	if f == nil {
		return nil
	}
	return f.Funcs
}

// kernelFeatures is what one kernel's BTF says it supports.
type kernelFeatures struct {
	spec  *btf.Spec
	facts *Facts
	// The UAPI enums, value to name; nil when the BTF lacks the enum.
	helpers, progTypes, attachTypes, mapTypes map[uint64]string
	// mapFlags are the BPF_F_* map creation flags the kernel knows (its
	// anonymous enum with BPF_F_NO_PREALLOC), bit to name; nil when unknown.
	mapFlags map[uint64]string
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
func newKernelFeatures(kernel *btf.Spec, facts *Facts) *kernelFeatures {
	return &kernelFeatures{
		spec:        kernel,
		facts:       facts,
		helpers:     enumValues(kernel, "bpf_func_id"),
		progTypes:   enumValues(kernel, "bpf_prog_type"),
		attachTypes: enumValues(kernel, "bpf_attach_type"),
		mapTypes:    enumValues(kernel, "bpf_map_type"),
		mapFlags:    mapFlagValues(kernel),
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
	roDeadHelper := map[asm.BuiltinFunc]bool{}
	callback := false
	// What the verifier also prunes: branches on read-only globals (const
	// volatile, .rodata) as the object sets them.
	liveRO := corerelo.ReachableWith(insns, readOnlyValues(spec))
	for i := range insns {
		ins := &insns[i]
		switch {
		case ins.IsBuiltinCall() && !corerelo.IsPoisoned(ins):
			fn := asm.BuiltinFunc(ins.Constant)
			switch {
			case live[i] && liveRO[i]:
				seenHelper[fn] = true
			case live[i]:
				roDeadHelper[fn] = true
			default:
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
	for _, fn := range sortedKeys(roDeadHelper) {
		if seenHelper[fn] || k.helpers == nil {
			continue
		}
		if _, ok := k.helpers[uint64(fn)]; !ok {
			out = append(out, Finding{Check: CheckHelper, Subject: helperName(fn), Verdict: Loads, Stage: StageLoad,
				Detail: "not in this kernel, but only called behind a read-only global (const volatile) whose value in the object makes it dead code; " +
					"a loader that sets that global at run time may make the call live, and the load fail"})
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
			out = append(out, k.checkMap(name, m, fallbacks[name])...)
		}
	}
	return out
}

// readOnlyValues returns the contents of spec's read-only maps (.rodata,
// BPF_F_RDONLY_PROG, which cilium/ebpf freezes after filling them), by
// name, as the verifier sees them.
func readOnlyValues(spec *ebpf.CollectionSpec) func(string) []byte {
	return func(name string) []byte {
		m := spec.Maps[name]
		if m == nil || m.Flags&bpfFRdonlyProg == 0 || len(m.Contents) != 1 {
			return nil
		}
		v, _ := m.Contents[0].Value.([]byte)
		return v
	}
}

// bpfFRdonlyProg is BPF_F_RDONLY_PROG: the program can only read the map.
const bpfFRdonlyProg = 1 << 7

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

// kprobeUnknown explains why a kprobe target missing from BTF is not a
// predicted failure when the kernel's kallsyms is unknown.
const kprobeUnknown = "is not in this kernel's BTF, but kprobes also reach functions BTF leaves out " +
	"(static ones with inconsistent prototypes, compiler-renamed copies); only kallsyms can tell, and this kernel's could not be read"

// placeholderPrefix starts the attach targets of programs whose real target
// user space sets at run time (libbpf's bpf_program__set_attach_target:
// SEC("kprobe/dummy_file_read")).
const placeholderPrefix = "dummy"

// NeedsInput starts the detail of a finding that depends on what user space
// supplies at run time (a placeholder attach target, a map size): no kernel
// decides it, so its verdict is unknown.
const NeedsInput = "needs run-time input: "

// checkAttachTarget checks the function or tracepoint prog attaches to, as
// named by its ELF section (prog.AttachTo).
func (k *kernelFeatures) checkAttachTarget(prog *ebpf.ProgramSpec) []Finding {
	target := prog.AttachTo
	kind, _, _ := strings.Cut(prog.SectionName, "/")
	if prog.Type == ebpf.Kprobe && prog.AttachType == ebpf.AttachTraceKprobeMulti {
		return []Finding{k.checkKprobeMulti(kind, target)}
	}
	if target == "" {
		return nil
	}
	f := Finding{Check: CheckAttachTarget, Verdict: Loads}
	switch {
	case prog.Type == ebpf.Kprobe && (kind == "kprobe" || kind == "kretprobe"):
		fn, _, _ := strings.Cut(target, "+")
		f.Subject, f.Stage = kind+" "+fn, StageAttach
		f.Verdict, f.Detail = k.kprobeTarget(fn)
	case prog.Type == ebpf.TracePoint:
		group, name, _ := strings.Cut(target, "/")
		f.Subject, f.Stage = "tracepoint "+target, StageAttach
		if group == "syscalls" {
			f.Verdict, f.Detail = k.syscallTracepoint(name)
		} else if !k.hasTracepoint(name) {
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
		case !k.hasFunc(fn) && strings.HasPrefix(fn, placeholderPrefix):
			f.Verdict, f.Detail = Unknown, NeedsInput+fn+" is a placeholder target (in no kernel's BTF): user space sets the real one before load"
		case !k.hasFunc(fn):
			f.Verdict, f.Detail = Fails, fn+" is not in this kernel's BTF (vmlinux): the loader cannot resolve the target"
		case needsTrampoline(prog) && k.isARM64() && !k.hasMember("ftrace_ops", "direct_call"):
			f.Verdict, f.Stage, f.Detail = Fails, StageAttach, arm64NoTrampoline
		case prog.Type == ebpf.LSM:
			return append([]Finding{f}, k.checkLSM())
		case prog.AttachType == ebpf.AttachTraceFEntry || prog.AttachType == ebpf.AttachTraceFExit || prog.AttachType == ebpf.AttachModifyReturn:
			return k.trampolineTarget(f, fn)
		}
	default:
		return nil
	}
	return []Finding{f}
}

// arm64NoTrampoline explains the verdict for a trampoline program on an
// arm64 kernel before 6.4: BPF trampolines reached arm64 in 6.0, but
// attaching one to a kernel function needs ftrace direct calls
// (DYNAMIC_FTRACE_WITH_DIRECT_CALLS), which arm64 got in 6.4 (booted: Debian's
// arm64 6.1 refuses fentry on do_exit, 6.12 attaches it).
const arm64NoTrampoline = "fentry, fexit, fmod_ret and lsm on a kernel function need ftrace direct calls " +
	"(DYNAMIC_FTRACE_WITH_DIRECT_CALLS), which arm64 has from 6.4: this arm64 kernel (its BTF has user_pt_regs) " +
	"has no ftrace_ops.direct_call, so attaching fails (ENOTSUPP)"

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

// hasMember reports whether struct typ has a member called member.
func (k *kernelFeatures) hasMember(typ, member string) bool {
	var st *btf.Struct
	if err := k.spec.TypeByName(typ, &st); err != nil {
		return false
	}
	for _, m := range st.Members {
		if m.Name == member {
			return true
		}
	}
	return false
}

func (k *kernelFeatures) hasStruct(name string) bool {
	var st *btf.Struct
	err := k.spec.TypeByName(name, &st)
	return err == nil || errors.Is(err, btf.ErrMultipleMatches)
}

// kprobeTarget is the verdict for a kprobe or kretprobe on fn: a kprobe
// resolves its symbol in kallsyms (perf_event_open fails with ENOENT for a
// name kallsyms lacks, and kernels since 6.6, with stable backports, refuse
// a name several symbols share with EADDRNOTAVAIL), and kprobe events
// (tracefs or the perf PMU) refuse a function without an ftrace call site
// (within_notrace_func, EINVAL) unless CONFIG_KPROBE_EVENTS_ON_NOTRACE.
func (k *kernelFeatures) kprobeTarget(fn string) (Verdict, string) {
	funcs := k.facts.funcs()
	inBTF := k.hasFunc(fn)
	switch {
	case funcs == nil && inBTF:
		return Loads, ""
	case funcs == nil && strings.HasPrefix(fn, placeholderPrefix):
		return Unknown, NeedsInput + fn + " is a placeholder target: user space names the real one at run time"
	case funcs == nil:
		return Unknown, fn + " " + kprobeUnknown
	}
	switch n := funcs.Count[fn]; {
	case n == 0 && strings.HasPrefix(fn, placeholderPrefix):
		return Unknown, NeedsInput + fn + " is a placeholder target (in no kernel's kallsyms): user space names the real one at run time"
	case n == 0 && inBTF:
		return Fails, fn + " is in this kernel's BTF but not in its kallsyms (inlined everywhere or renamed, e.g. " + fn + ".isra.0): no symbol to probe"
	case n == 0:
		return Fails, fn + " is not in this kernel's kallsyms: no symbol to probe"
	case n > 1:
		return Unknown, fmt.Sprintf("%d kallsyms symbols are called %s: kernels with the 6.6 ambiguity check (and its stable backports) refuse the kprobe (EADDRNOTAVAIL), older ones probe the first", n, fn)
	case funcs.Traceable == nil:
		return Loads, ""
	case !funcs.Traceable[fn] && k.facts.config("CONFIG_KPROBE_EVENTS_ON_NOTRACE") != "y":
		return Fails, fn + " has no ftrace call site (notrace): kprobe events refuse notrace functions (EINVAL) unless CONFIG_KPROBE_EVENTS_ON_NOTRACE"
	}
	return Loads, ""
}

// trampolineTarget adds to f, the load finding of an fentry, fexit or
// fmod_ret program on fn (in BTF), what kallsyms says: the loader needs fn's
// address (bpf_check_attach_target: "The address of function ... cannot be
// found", ENOENT at load), and attaching patches its ftrace call site (a
// function without one cannot be patched: EBUSY at attach).
func (k *kernelFeatures) trampolineTarget(f Finding, fn string) []Finding {
	funcs := k.facts.funcs()
	if funcs == nil {
		return []Finding{f}
	}
	at := Finding{Check: CheckAttachTarget, Subject: f.Subject + " (ftrace call site)", Verdict: Loads, Stage: StageAttach}
	switch {
	case funcs.Count[fn] == 0:
		f.Verdict, f.Detail = Fails, fn+" is in this kernel's BTF but not in its kallsyms (inlined or renamed): the loader cannot find its address"
		return []Finding{f}
	case funcs.Traceable == nil:
		at.Verdict, at.Detail = Unknown, "the image has no __mcount_loc table: whether "+fn+" can be traced is not known"
	case !funcs.Traceable[fn]:
		at.Verdict, at.Detail = Fails, fn+" has no ftrace call site (not in __mcount_loc: notrace or not instrumented): the trampoline cannot be attached (EBUSY)"
	}
	return []Finding{f, at}
}

// syscallTracepoint is the verdict for tracepoint syscalls/name: syscall
// events come from ftrace's syscall metadata (CONFIG_FTRACE_SYSCALLS), one
// sys_enter_X and sys_exit_X per syscall X the kernel defines; they have no
// btf_trace_* typedef nor trace_event_raw_* struct of their own.
func (k *kernelFeatures) syscallTracepoint(name string) (Verdict, string) {
	sc, ok := strings.CutPrefix(name, "sys_enter_")
	if !ok {
		if sc, ok = strings.CutPrefix(name, "sys_exit_"); !ok {
			return Fails, "no tracepoint syscalls/" + name + ": syscall events are sys_enter_NAME and sys_exit_NAME"
		}
	}
	switch v := k.facts.config("CONFIG_FTRACE_SYSCALLS"); {
	case v == "":
		var s *btf.Struct
		if k.spec.TypeByName("syscall_metadata", &s) != nil {
			return Unknown, "the kernel config is unknown and its BTF has no struct syscall_metadata: whether it has syscall tracepoints (CONFIG_FTRACE_SYSCALLS) is not known"
		}
	case v != "y":
		return Fails, "CONFIG_FTRACE_SYSCALLS is not set: this kernel has no syscall tracepoints"
	}
	wrappers := []string{"__x64_sys_" + sc, "__se_sys_" + sc, "__do_sys_" + sc, "__arm64_sys_" + sc, "sys_" + sc}
	funcs := k.facts.funcs()
	if funcs != nil && funcs.Syscalls != nil {
		// ftrace registers the events of the syscalls the native table
		// holds; a syscall defined for other architectures or ABIs only
		// (sync_file_range2, the *_time32 ones) has metadata but no event.
		for _, w := range []string{"__x64_sys_" + sc, "__arm64_sys_" + sc, "sys_" + sc} {
			if funcs.Syscalls[w] {
				return Loads, ""
			}
		}
		return Fails, "syscall " + sc + " is not in this kernel's system call table (sys_call_table): no tracepoint syscalls/" + name
	}
	if slices.ContainsFunc(wrappers, k.hasFunc) {
		return Loads, ""
	}
	if funcs == nil {
		return Unknown, "syscall " + sc + " is not in this kernel's BTF (" + wrappers[0] + "); only kallsyms can tell, and this kernel's could not be read"
	}
	for _, w := range wrappers {
		if funcs.Count[w] > 0 {
			return Loads, ""
		}
	}
	return Fails, "no syscall " + sc + " in this kernel (no " + wrappers[0] + " in its BTF or kallsyms): no tracepoint syscalls/" + name
}

// checkKprobeMulti checks a kprobe.multi or kretprobe.multi program:
// attaching needs fprobe (CONFIG_FPROBE, 5.18) and its pattern must match
// ftrace-able functions.
func (k *kernelFeatures) checkKprobeMulti(kind, pattern string) Finding {
	f := Finding{Check: CheckAttachTarget, Subject: kind + " " + pattern, Verdict: Loads, Stage: StageAttach}
	switch v := k.facts.config("CONFIG_FPROBE"); {
	case v == "":
		f.Verdict, f.Detail = Unknown, "the kernel config is unknown: kprobe_multi needs CONFIG_FPROBE"
		return f
	case v != "y":
		f.Verdict, f.Detail = Fails, "CONFIG_FPROBE is not set: kprobe_multi links are refused (EOPNOTSUPP)"
		return f
	}
	funcs := k.facts.funcs()
	if pattern == "" || funcs == nil || funcs.Traceable == nil {
		return f
	}
	for name := range funcs.Traceable {
		if ok, _ := path.Match(pattern, name); ok {
			return f
		}
	}
	f.Verdict, f.Detail = Fails, "no ftrace-able function of this kernel matches "+pattern
	return f
}

// checkLSM checks what a BPF LSM program needs beyond its hook:
// CONFIG_BPF_LSM, and "bpf" among the active LSMs (CONFIG_LSM, unless the
// boot command line's lsm= says otherwise) for it to run.
func (k *kernelFeatures) checkLSM() Finding {
	f := Finding{Check: CheckAttachTarget, Subject: "BPF LSM enabled", Verdict: Loads, Stage: StageAttach}
	lsm := k.facts.config("CONFIG_LSM")
	switch v := k.facts.config("CONFIG_BPF_LSM"); {
	case v == "":
		f.Verdict, f.Detail = Unknown, "the kernel config is unknown: BPF LSM programs need CONFIG_BPF_LSM and bpf among the active LSMs"
	case v != "y":
		f.Verdict, f.Detail = Fails, "CONFIG_BPF_LSM is not set"
	case !slices.Contains(strings.Split(strings.Trim(lsm, `"`), ","), "bpf"):
		f.Detail = "bpf is not in CONFIG_LSM (" + lsm + "): the program attaches but runs only when the boot command line adds it (lsm=...,bpf)"
	}
	return f
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
