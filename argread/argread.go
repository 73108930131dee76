package argread

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/btfproto"
)

// Attach types of a Read.
const (
	Kprobe    = "kprobe"
	Kretprobe = "kretprobe"
	Fentry    = "fentry"
	Fexit     = "fexit"
)

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
	// Insn is the index of the reading instruction in the program
	// (subprograms included; -1 for a problem with the whole program).
	Insn int `json:"insn"`
	// Unknown, when set, says why the analysis cannot follow a use of the
	// context at Insn (Position is then -1).
	Unknown string `json:"unknown,omitempty"`
}

// Label names what is read: "arg 2" or "return".
func (r Read) Label() string {
	if r.Position < 0 {
		return "?"
	}
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
		rs, err := ProgramReads(p, spec.Types, spec.Maps)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	sortReads(out)
	return out, nil
}

// ProgramReads returns the argument reads of one program as compiled (no
// kernel: every CO-RE check may go either way), none when it does not trace
// a function (see Traced). local is the object's BTF; maps, when not nil,
// gives the key and value sizes of the maps the program passes stack
// buffers to. A use of the context the analysis cannot follow is a Read
// with Position -1 and Unknown set.
func ProgramReads(p *ebpf.ProgramSpec, local *btf.Spec, maps map[string]*ebpf.MapSpec) ([]Read, error) {
	attach, target, ok := Traced(p)
	if !ok {
		return nil, nil
	}
	a, err := newAnalysis(p.Instructions, local, attach == Fentry || attach == Fexit, maps)
	if err != nil {
		return nil, fmt.Errorf("program %s: %w", p.Name, err)
	}
	a.run()
	var out []Read
	for _, s := range a.sites {
		out = append(out, a.readOf(p.Name, attach, target, s))
	}
	for _, pr := range a.problems {
		out = append(out, unknownRead(p.Name, attach, target, pr))
	}
	sortReads(out)
	return out, nil
}

// sortReads orders reads by program, position and instruction.
func sortReads(rs []Read) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Program != b.Program {
			return a.Program < b.Program
		}
		if a.Position != b.Position {
			return a.Position < b.Position
		}
		return a.Insn < b.Insn
	})
}

// readOf turns a site of the analysis into a Read.
func (a *analysis) readOf(program, attach, target string, s site) Read {
	r := Read{Program: program, Attach: attach, Target: target, Insn: s.insn, Slot: -1}
	if a.tracing {
		r.Slot = int(s.off / 8)
		r.Position = r.Slot + 1
		r.Via = fmt.Sprintf("ctx[%d]", r.Slot)
	} else {
		var field string
		field, r.Position = a.abi.position(s.off, attach)
		r.Via = a.abi.via(s.off, field, s.core)
	}
	if s.helper != "" {
		r.Via += " by " + helperName(s.helper)
	}
	if s.fn != "" {
		r.Via += " in " + s.fn + "()"
	}
	return r
}

// unknownRead is a use of the context the analysis cannot follow.
func unknownRead(program, attach, target string, pr problem) Read {
	via := "program"
	if pr.insn >= 0 {
		via = fmt.Sprintf("insn %d", pr.insn)
	}
	return Read{Program: program, Attach: attach, Target: target, Position: -1, Slot: -1, Via: via, Insn: pr.insn, Unknown: pr.why}
}
