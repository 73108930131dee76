package probes

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/corerelo"
)

// explain turns a program load failure into a *COREError when CO-RE is to
// blame, naming the relocation; other errors are wrapped with the program
// name.
//
// CO-RE is to blame when cilium/ebpf reports a bad CO-RE relocation (the
// verifier reached a poisoned instruction) or when the relocations cannot be
// computed against kt at all. The relocation is found the same way the
// offline report finds it: ps is relocated against kt (corerelo.Apply) and
// every poisoned instruction the verifier can reach is named.
func explain(name string, ps *ebpf.ProgramSpec, local, kt *btf.Spec, err error) error {
	sites, rerr := corerelo.Apply(ps.Instructions, local, kt, ps.ByteOrder)
	switch {
	case errors.Is(rerr, corerelo.ErrRelocation):
		return &COREError{Program: name, Relocation: rerr.Error(), Err: err}
	case corerelo.IsBadRelocation(err):
		var bad []string
		for _, s := range sites {
			if s.Unguarded {
				bad = append(bad, describe(ps, s))
			}
		}
		d := "unknown"
		if len(bad) > 0 {
			d = strings.Join(bad, "; ")
		}
		return &COREError{Program: name, Relocation: d, Err: err}
	}
	return classify(fmt.Errorf("program %s: %w", name, err))
}

// describe renders a relocation site as "<kind> <type>.<field path> (insn N:
// source)", N being the raw instruction offset the verifier log shows.
func describe(ps *ebpf.ProgramSpec, s corerelo.Site) string {
	src := ""
	if s.Index < len(ps.Instructions) {
		if source := ps.Instructions[s.Index].Source(); source != nil {
			src = ": " + strings.TrimSpace(source.String())
		}
	}
	return fmt.Sprintf("%s (insn %d%s)", s.Description, s.Offset, src)
}
