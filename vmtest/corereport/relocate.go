// Package corereport resolves the CO-RE relocations of a BPF object against
// kernels' BTF without booting them, and tells which programs would load.
//
// For every program it collects each CO-RE relocation, resolves them all
// with btf.CORERelocate against one kernel's BTF (as cilium/ebpf does at load
// time), applies the fixups to a copy of the instructions and reads the
// outcome back from the rewritten instructions: an offset, a size, an
// existence bit, or poison (the instruction replaced by "call 0xbad2310").
// A poisoned instruction the verifier can reach fails the load with
// "bad CO-RE relocation"; one that only sits behind a CO-RE existence check
// that is false on that kernel is dead code and loads fine (see reach.go for
// how reachability is decided).
//
// Only CO-RE failures are predicted: a program can still fail to load for
// reasons BTF does not show (a helper or map type the kernel lacks, verifier
// limits).
package corereport

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// Relocation is one CO-RE relocation of one program.
type Relocation struct {
	// Program is the name of the program the relocation belongs to.
	Program string `json:"program"`
	// Insn is the index of the relocated instruction in the program's
	// instructions (subprograms included).
	Insn int `json:"insn"`
	// Kind is the relocation kind, e.g. field_byte_offset.
	Kind Kind `json:"kind"`
	// Type is the local type as named in the object, flavor suffix included
	// (e.g. "task_struct___pre514").
	Type string `json:"type"`
	// Access is the accessor spelled with member names, e.g.
	// "task_struct___pre514.state"; for type relocations the type's name.
	Access string `json:"access"`
	// Accessor is the raw accessor, e.g. "0:0".
	Accessor string `json:"accessor"`
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

// Program is the predicted load outcome of one program on one kernel.
type Program struct {
	Name string `json:"name"`
	// Loads is the prediction: true unless a CO-RE relocation fails the load.
	Loads bool `json:"loads"`
	// Reason says why the program is predicted to fail.
	Reason string  `json:"reason,omitempty"`
	Fixups []Fixup `json:"fixups"`
}

// Result is every program of an object relocated against one kernel, sorted
// by program name.
type Result struct {
	Programs []Program `json:"programs"`
}

// ErrRelocation wraps a relocation that cilium/ebpf could not compute at all
// (ambiguous or incompatible target types); the load would fail the same way.
var ErrRelocation = errors.New("CO-RE relocation failed")

// Relocate resolves the CO-RE relocations of every program in spec against
// kernel, the kernel's BTF (vmlinux only; module BTF is not consulted).
//
// A program whose relocations cannot be computed is reported as failing, with
// the error as its reason, rather than failing Relocate; Relocate returns an
// error only for a relocation it cannot describe.
func Relocate(spec *ebpf.CollectionSpec, kernel *btf.Spec) (*Result, error) {
	if kernel == nil {
		return nil, errors.New("relocate: no kernel BTF")
	}
	names := make([]string, 0, len(spec.Programs))
	for name := range spec.Programs {
		names = append(names, name)
	}
	sort.Strings(names)

	res := &Result{Programs: make([]Program, 0, len(names))}
	for _, name := range names {
		p, err := relocateProgram(spec, spec.Programs[name], kernel)
		if err != nil {
			return nil, fmt.Errorf("relocate program %s: %w", name, err)
		}
		res.Programs = append(res.Programs, *p)
	}
	return res, nil
}

// relocateProgram relocates one program; see Relocate.
func relocateProgram(spec *ebpf.CollectionSpec, prog *ebpf.ProgramSpec, kernel *btf.Spec) (*Program, error) {
	out := &Program{Name: prog.Name, Loads: true, Fixups: []Fixup{}}

	insns := make(asm.Instructions, len(prog.Instructions))
	copy(insns, prog.Instructions)

	var relos []*btf.CORERelocation
	var at []int
	for i := range insns {
		if relo := btf.CORERelocationMetadata(&insns[i]); relo != nil {
			relos = append(relos, relo)
			at = append(at, i)
		}
	}
	if len(relos) == 0 {
		return out, nil
	}

	for i, relo := range relos {
		d, err := describeRelocation(relo, spec.Types)
		if err != nil {
			return nil, err
		}
		out.Fixups = append(out.Fixups, Fixup{Relocation: Relocation{
			Program: prog.Name, Insn: at[i], Kind: d.kind,
			Type: d.typ, Access: d.access, Accessor: d.accessor,
		}})
	}

	bo := prog.ByteOrder
	if bo == nil {
		bo = spec.ByteOrder
	}
	// Local type IDs only matter to the BTF sent with a load; any stable
	// numbering does for reading the outcome.
	var b btf.Builder
	fixups, err := btf.CORERelocate(relos, []*btf.Spec{kernel}, bo, b.Add)
	if err != nil {
		return out.unresolved(fmt.Errorf("%w: %w", ErrRelocation, err)), nil
	}
	for i := range fixups {
		ins := &insns[at[i]]
		if err := fixups[i].Apply(ins); err != nil {
			return out.unresolved(fmt.Errorf("%w: %s: %w", ErrRelocation, out.Fixups[i].Access, err)), nil
		}
		f := &out.Fixups[i]
		switch {
		case isPoisoned(ins):
			f.Poisoned = true
		case ins.OpCode.Class() == asm.LdXClass || ins.OpCode.Class().IsStore():
			f.Value = int64(ins.Offset)
		default:
			f.Value = ins.Constant
		}
	}

	live := reachable(insns)
	var bad []string
	for i := range out.Fixups {
		f := &out.Fixups[i]
		if f.Poisoned && live[f.Insn] {
			f.Unguarded = true
			bad = append(bad, fmt.Sprintf("%s %s (insn %d)", f.Access, f.Kind, f.Insn))
		}
	}
	if len(bad) > 0 {
		out.Loads = false
		out.Reason = "bad CO-RE relocation: unguarded poisoned " + strings.Join(bad, ", ")
	}
	return out, nil
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
