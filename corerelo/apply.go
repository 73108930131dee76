package corerelo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// ErrRelocation wraps a relocation that cilium/ebpf could not compute at all
// (ambiguous or incompatible target types); loading the program fails the
// same way.
var ErrRelocation = errors.New("CO-RE relocation failed")

// Site is one CO-RE relocation of a program and what it became on one kernel.
type Site struct {
	Description
	// Index is the relocated instruction's index in the program's
	// instructions (subprograms included).
	Index int
	// Offset is the instruction's raw offset (in 8-byte slots), as the
	// verifier log numbers instructions.
	Offset int
	// Value is the relocated value: the target byte offset or size, 1 or 0
	// for existence checks. Meaningless when Poisoned.
	Value int64
	// Poisoned is true when the kernel has no target for the relocation and
	// the instruction was replaced by an invalid one (see IsPoisoned).
	Poisoned bool
	// Unguarded is true when the poisoned instruction is reachable (see
	// Reachable): the load fails. A poisoned but guarded instruction is
	// dead code on that kernel.
	Unguarded bool
}

// Apply relocates a copy of insns against kernel (vmlinux BTF; module BTF is
// not consulted) the way cilium/ebpf does when it loads the program, and
// returns every relocation site, described with local (the object's BTF).
// It is Relocate without the relocated instructions.
//
// A relocation Apply cannot describe is ErrUnknownRelocation, and no sites
// are returned. A relocation cilium/ebpf cannot compute is ErrRelocation; the
// sites are returned described but without values.
func Apply(insns asm.Instructions, local, kernel *btf.Spec, bo binary.ByteOrder) ([]Site, error) {
	p, err := Relocate(insns, local, kernel, bo)
	if p == nil {
		return nil, err
	}
	return p.Sites, err
}

// Program is a program relocated against one kernel.
type Program struct {
	// Insns is the relocated copy of the program's instructions; with
	// ErrRelocation, the unrelocated copy.
	Insns asm.Instructions
	// Live tells, per instruction of Insns, whether the verifier can reach
	// it (see Reachable).
	Live []bool
	// Sites are the CO-RE relocations, in instruction order; nil when the
	// program has none.
	Sites []Site
}

// Relocate is Apply that also returns the relocated instructions and which
// of them are live, for analyses of what the verifier will see (the calls a
// kernel must support, for example). The errors are Apply's; with
// ErrRelocation the Program is still returned, its Insns unrelocated.
func Relocate(insns asm.Instructions, local, kernel *btf.Spec, bo binary.ByteOrder) (*Program, error) {
	if kernel == nil {
		return nil, errors.New("apply CO-RE relocations: no kernel BTF")
	}
	insns = append(asm.Instructions(nil), insns...)
	p := &Program{Insns: insns}

	var relos []*btf.CORERelocation
	raw := 0
	for i := range insns {
		if relo := btf.CORERelocationMetadata(&insns[i]); relo != nil {
			d, err := Describe(relo, local)
			if err != nil {
				return nil, err
			}
			relos = append(relos, relo)
			p.Sites = append(p.Sites, Site{Description: d, Index: i, Offset: raw})
		}
		raw += int(insns[i].Width())
	}
	if len(relos) == 0 {
		p.Live = Reachable(insns)
		return p, nil
	}

	// Local type IDs only matter to the BTF sent with a load; any stable
	// numbering does for reading the outcome.
	var b btf.Builder
	fixups, err := btf.CORERelocate(relos, []*btf.Spec{kernel}, bo, b.Add)
	if err != nil {
		p.Live = Reachable(p.Insns)
		return p, fmt.Errorf("%w: %w", ErrRelocation, err)
	}
	relocated := append(asm.Instructions(nil), insns...)
	for i := range fixups {
		s := &p.Sites[i]
		ins := &relocated[s.Index]
		if err := fixups[i].Apply(ins); err != nil {
			p.Live = Reachable(p.Insns)
			return p, fmt.Errorf("%w: %s: %w", ErrRelocation, s.Access, err)
		}
		switch {
		case IsPoisoned(ins):
			s.Poisoned = true
		case ins.OpCode.Class() == asm.LdXClass || ins.OpCode.Class().IsStore():
			s.Value = int64(ins.Offset)
		default:
			s.Value = ins.Constant
		}
	}

	p.Insns = relocated
	p.Live = Reachable(relocated)
	for i := range p.Sites {
		p.Sites[i].Unguarded = p.Sites[i].Poisoned && p.Live[p.Sites[i].Index]
	}
	return p, nil
}

// BadRelocationText is the message of the error cilium/ebpf returns when the
// verifier rejects a program at a poisoned instruction. cilium/ebpf keeps
// that error unexported (errBadRelocation), so IsBadRelocation matches its
// text; the tests load a poisoned program for real to keep the two in step.
const BadRelocationText = "bad CO-RE relocation"

// IsBadRelocation reports whether err, from loading a program, is
// cilium/ebpf's "bad CO-RE relocation": the verifier reached an instruction
// that CO-RE poisoned.
func IsBadRelocation(err error) bool {
	return err != nil && strings.Contains(err.Error(), BadRelocationText)
}
