package probes

import (
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// A poisoned instruction as the verifier prints it: a call to helper
// 0xbad2310 (195896080) or a dword load of that constant into r10.
var poisonRE = regexp.MustCompile(`^(\d+): \((?:85|18)\) .*(?:195896080|0xbad2310)`)

// Parses btf.CORERelocation.String(): kind, type kind, type name, accessor.
var reloRE = regexp.MustCompile(`^CORERelocation\(([^,]+), (\w+):"([^"]*)"\[([\d:]+)\]`)

// explain turns a program load failure into a *COREError when CO-RE is to
// blame, naming the relocation; other errors are wrapped with the program
// name.
func explain(name string, ps *ebpf.ProgramSpec, kt *btf.Spec, err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		for i := len(ve.Log) - 1; i >= 0; i-- {
			m := poisonRE.FindStringSubmatch(strings.TrimSpace(ve.Log[i]))
			if m == nil {
				continue
			}
			off, _ := strconv.Atoi(m[1])
			if d := relocationAt(ps.Instructions, off); d != "" {
				return &COREError{Program: name, Relocation: d, Err: err}
			}
		}
	}
	if strings.Contains(err.Error(), "CO-RE") {
		bad := poisoned(ps.Instructions, kt)
		d := "unknown"
		if len(bad) > 0 {
			d = strings.Join(bad, "; ")
		}
		return &COREError{Program: name, Relocation: d, Err: err}
	}
	return classify(fmt.Errorf("program %s: %w", name, err))
}

// relocationAt describes the CO-RE relocation of the instruction at raw
// offset off, or returns "" when it has none.
func relocationAt(insns asm.Instructions, off int) string {
	iter := insns.Iterate()
	for iter.Next() {
		if int(iter.Offset) != off {
			continue
		}
		relo := btf.CORERelocationMetadata(iter.Ins)
		if relo == nil {
			return ""
		}
		return describe(relo, iter.Ins, off)
	}
	return ""
}

// poisoned relocates insns offline against kt and describes every
// relocation that has no target (guarded or not).
func poisoned(insns asm.Instructions, kt *btf.Spec) []string {
	if kt == nil {
		return nil
	}
	var relos []*btf.CORERelocation
	var at []*asm.Instruction
	var offs []int
	iter := insns.Iterate()
	for iter.Next() {
		if r := btf.CORERelocationMetadata(iter.Ins); r != nil {
			relos = append(relos, r)
			at = append(at, iter.Ins)
			offs = append(offs, int(iter.Offset))
		}
	}
	fixups, err := btf.CORERelocate(relos, []*btf.Spec{kt}, binary.LittleEndian,
		func(btf.Type) (btf.TypeID, error) { return 0, nil })
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for i, f := range fixups {
		if strings.Contains(f.String(), "poison") {
			out = append(out, describe(relos[i], at[i], offs[i]))
		}
	}
	return out
}

// describe renders a relocation as "<kind> <type>.<field path> (insn N: source)".
func describe(relo *btf.CORERelocation, ins *asm.Instruction, off int) string {
	s := relo.String()
	if m := reloRE.FindStringSubmatch(s); m != nil {
		s = m[1] + " " + fieldPath(m[3], m[4])
	}
	src := ""
	if ins.Source() != nil {
		src = ": " + strings.TrimSpace(ins.Source().String())
	}
	return fmt.Sprintf("%s (insn %d%s)", s, off, src)
}

// localTypes is the BTF of the embedded object, parsed once.
var localTypes = sync.OnceValues(func() (*btf.Spec, error) {
	spec, err := Spec()
	if err != nil {
		return nil, err
	}
	return spec.Types, nil
})

// fieldPath resolves an accessor such as "0:6:1" on the local type named
// typ of the embedded object to "typ.field.sub".
func fieldPath(typ, acc string) string {
	types, err := localTypes()
	if err != nil || types == nil {
		return typ + "[" + acc + "]"
	}
	var t btf.Type
	cands, _ := types.AnyTypesByName(typ)
	for _, cand := range cands {
		// AnyTypesByName ignores flavor suffixes; want the exact type.
		if cand.TypeName() != typ {
			continue
		}
		switch cand.(type) {
		case *btf.Struct, *btf.Union:
			t = cand
		}
	}
	parts := strings.Split(acc, ":")
	path := typ
	if t == nil || len(parts) < 2 {
		return path
	}
	for _, p := range parts[1:] {
		idx, err := strconv.Atoi(p)
		if err != nil {
			return path + "[" + acc + "]"
		}
		switch ct := btf.UnderlyingType(t).(type) {
		case *btf.Struct:
			if idx >= len(ct.Members) {
				return path + "[" + acc + "]"
			}
			m := ct.Members[idx]
			if m.Name != "" {
				path += "." + m.Name
			}
			t = m.Type
		case *btf.Union:
			if idx >= len(ct.Members) {
				return path + "[" + acc + "]"
			}
			m := ct.Members[idx]
			if m.Name != "" {
				path += "." + m.Name
			}
			t = m.Type
		case *btf.Array:
			path += "[" + p + "]"
			t = ct.Type
		default:
			return path + "[" + acc + "]"
		}
	}
	return path
}
