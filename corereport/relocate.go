package corereport

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/corerelo"
)

// Relocation is one CO-RE relocation of one program.
type Relocation struct {
	// Program is the name of the program the relocation belongs to.
	Program string `json:"program"`
	// Insn is the index of the relocated instruction in the program's
	// instructions (subprograms included).
	Insn int `json:"insn"`
	corerelo.Description
}

// Fixup is how one relocation resolves against one kernel.
type Fixup struct {
	Relocation
	// Value is the relocated value: the target byte offset or size, 1 or 0
	// for existence checks. Meaningless when Poisoned.
	Value int64 `json:"value"`
	// Poisoned is true when the kernel has no target for the relocation and
	// the instruction was replaced by an invalid one.
	Poisoned bool `json:"poisoned"`
	// Unguarded is true when the poisoned instruction is reachable: the load
	// fails. A poisoned but guarded instruction is dead code on this kernel.
	Unguarded bool `json:"unguarded"`
	// Unresolved is true when the program's relocations could not be
	// computed at all (see Program.Reason); Value means nothing then.
	Unresolved bool `json:"unresolved,omitempty"`
}

// Program is the predicted outcome of one program on one kernel.
type Program struct {
	Name string `json:"name"`
	// Verdict is the prediction: the worst verdict of Findings.
	Verdict Verdict `json:"verdict"`
	// Loads is false when the program is predicted to fail (Verdict Fails).
	Loads bool `json:"loads"`
	// Reason says why the program is predicted to fail, or why the
	// prediction is unknown.
	Reason string `json:"reason,omitempty"`
	// Load and Attach are the verdicts of each stage: a program can load
	// and still fail to attach (Load loads, Attach fails).
	Load   Verdict `json:"load"`
	Attach Verdict `json:"attach"`
	// AttachReason says why the attach fails or is unknown.
	AttachReason string  `json:"attach_reason,omitempty"`
	Fixups       []Fixup `json:"fixups"`
	// Findings is everything checked for the program on this kernel: the
	// CO-RE outcome, each helper, kfunc, map, type and attach target.
	// Other checks append their own findings (see Finding).
	Findings []Finding `json:"findings"`
}

// Result is every program of an object relocated against one kernel, sorted
// by program name.
type Result struct {
	Programs []Program `json:"programs"`
	// Notes say what about the kernel limits the prediction.
	Notes []string `json:"notes,omitempty"`
}

// Relocate resolves the CO-RE relocations of every program in spec against
// kernel, the kernel's BTF (vmlinux only; module BTF is not consulted), and
// runs the other checks of the kernel's BTF on each program (features.go).
//
// A program whose relocations cannot be computed is reported as failing, with
// the error as its reason, rather than failing Relocate; Relocate returns an
// error only for a relocation it cannot describe.
func Relocate(spec *ebpf.CollectionSpec, kernel *btf.Spec, opts Options) (*Result, error) {
	return RelocateWith(spec, kernel, nil, opts)
}

// RelocateWith is Relocate knowing more of the kernel than its BTF: its
// config and kallsyms decide syscall tracepoints, kprobe, fentry and
// kprobe_multi targets and LSM programs (see Facts). Nil facts are unknown.
func RelocateWith(spec *ebpf.CollectionSpec, kernel *btf.Spec, facts *Facts, opts Options) (*Result, error) {
	if kernel == nil {
		return nil, errors.New("relocate: no kernel BTF")
	}
	feats := newKernelFeatures(kernel, facts)
	var notes []string
	if feats.partial() {
		notes = append(notes, partialNote)
	}
	names := make([]string, 0, len(spec.Programs))
	for name := range spec.Programs {
		names = append(names, name)
	}
	sort.Strings(names)

	res := &Result{Programs: make([]Program, 0, len(names)), Notes: notes}
	for _, name := range names {
		p, err := relocateProgram(spec, spec.Programs[name], kernel, feats, opts)
		if err != nil {
			return nil, fmt.Errorf("relocate program %s: %w", name, err)
		}
		res.Programs = append(res.Programs, *p)
	}
	return res, nil
}

// relocateProgram relocates one program and checks it; see Relocate.
func relocateProgram(spec *ebpf.CollectionSpec, prog *ebpf.ProgramSpec, kernel *btf.Spec, feats *kernelFeatures, opts Options) (*Program, error) {
	out := &Program{Name: prog.Name, Loads: true, Fixups: []Fixup{}}
	bo := prog.ByteOrder
	if bo == nil {
		bo = spec.ByteOrder
	}
	rp, err := corerelo.Relocate(prog.Instructions, spec.Types, kernel, bo)
	if rp == nil {
		return nil, err
	}
	defer out.check(spec, prog, rp, feats, opts)
	for _, s := range rp.Sites {
		out.Fixups = append(out.Fixups, Fixup{
			Relocation: Relocation{Program: prog.Name, Insn: s.Index, Description: s.Description},
			Value:      s.Value, Poisoned: s.Poisoned, Unguarded: s.Unguarded,
		})
	}
	if err != nil {
		return out.unresolved(err), nil
	}
	var bad []string
	for _, f := range out.Fixups {
		if f.Unguarded {
			bad = append(bad, fmt.Sprintf("%s %s (insn %d)", f.Access, f.Kind, f.Insn))
		}
	}
	if len(bad) > 0 {
		out.Loads = false
		out.Reason = corerelo.BadRelocationText + ": unguarded poisoned " + strings.Join(bad, ", ")
	}
	return out, nil
}

// check adds p's findings on the kernel feats describes, CO-RE first, and
// sets its verdict from them. rp is the program relocated on that kernel.
func (p *Program) check(spec *ebpf.CollectionSpec, prog *ebpf.ProgramSpec, rp *corerelo.Program, feats *kernelFeatures, opts Options) {
	p.Findings = []Finding{}
	if len(p.Fixups) > 0 {
		f := Finding{Check: CheckCORE, Subject: "CO-RE relocations", Verdict: Loads, Stage: StageLoad}
		if !p.Loads {
			f.Verdict, f.Detail = Fails, p.Reason
		}
		p.Findings = append(p.Findings, f)
	}
	p.Findings = append(p.Findings, feats.checkProgram(spec, prog, rp.Insns, rp.Live, opts)...)
	p.Verdict, p.Reason = verdictOf(p.Findings, "")
	p.Loads = p.Verdict != Fails
	p.Load, _ = verdictOf(p.Findings, StageLoad)
	p.Attach, p.AttachReason = verdictOf(p.Findings, StageAttach)
}

// unresolved marks p as failing to load because its relocations could not be
// computed.
func (p *Program) unresolved(err error) *Program {
	p.Loads = false
	p.Reason = err.Error()
	for i := range p.Fixups {
		p.Fixups[i] = Fixup{Relocation: p.Fixups[i].Relocation, Unresolved: true}
	}
	return p
}
