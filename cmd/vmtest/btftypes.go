package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/btfproto"
)

// printBTF prints what the kernels' BTF (specs, labelled by labels) holds
// under name. A function prints as its prototype; on several kernels the
// prototypes are lined up side by side with changes marked (see
// btfproto.WriteSideBySide). Other types print per kernel. The error says
// where name was not found; name found on some kernels only is not an
// error for a function (its column shows "?").
func printBTF(w io.Writer, name string, labels []string, specs []*btf.Spec) error {
	versions := make([]btfproto.Version, len(specs))
	var others [][]btf.Type
	isFunc, found := false, 0
	for i, spec := range specs {
		versions[i].Kernel = labels[i]
		types, err := spec.AnyTypesByName(name)
		if err != nil && !errors.Is(err, btf.ErrNotFound) {
			return fmt.Errorf("%s: %s: %w", labels[i], name, err)
		}
		var rest []btf.Type
		for _, t := range types {
			if fn, ok := t.(*btf.Func); ok && versions[i].Proto == nil {
				p, err := btfproto.FromFunc(fn)
				if err != nil {
					return fmt.Errorf("%s: %w", labels[i], err)
				}
				versions[i].Proto, isFunc = &p, true
				continue
			}
			rest = append(rest, t)
		}
		if versions[i].Proto == nil {
			versions[i].Err = fmt.Errorf("%s: %w", labels[i], btfproto.ErrNotFound)
		}
		if len(types) > 0 {
			found++
		}
		others = append(others, rest)
	}
	if found == 0 {
		return fmt.Errorf("%s: not in the BTF of %s", name, joinLabels(labels))
	}
	if isFunc {
		if err := btfproto.WriteSideBySide(w, name, versions); err != nil {
			return err
		}
	}
	for i, rest := range others {
		if len(rest) == 0 {
			continue
		}
		if len(specs) > 1 {
			fmt.Fprintf(w, "# %s\n", labels[i])
		}
		for _, t := range rest {
			printType(w, t)
		}
	}
	if !isFunc {
		var absent []string
		for i, rest := range others {
			if len(rest) == 0 {
				absent = append(absent, labels[i])
			}
		}
		if len(absent) > 0 {
			return fmt.Errorf("%s: not in the BTF of %s", name, joinLabels(absent))
		}
	}
	return nil
}

func joinLabels(labels []string) string {
	var out strings.Builder
	for i, l := range labels {
		if i > 0 {
			out.WriteString(", ")
		}
		out.WriteString(l)
	}
	return out.String()
}

// printType prints a type; structs and unions with their members' byte
// offsets, names and types.
func printType(w io.Writer, t btf.Type) {
	var members []btf.Member
	switch t := t.(type) {
	case *btf.Struct:
		fmt.Fprintf(w, "struct %s { // size %d\n", t.Name, t.Size)
		members = t.Members
	case *btf.Union:
		fmt.Fprintf(w, "union %s { // size %d\n", t.Name, t.Size)
		members = t.Members
	case *btf.Enum:
		fmt.Fprintf(w, "enum %s { // size %d\n", t.Name, t.Size)
		for _, v := range t.Values {
			fmt.Fprintf(w, "\t%s = %d\n", v.Name, v.Value)
		}
		fmt.Fprintln(w, "}")
		return
	default:
		fmt.Fprintf(w, "%s: %s\n", t.TypeName(), btfproto.TypeString(btf.UnderlyingType(t)))
		return
	}
	for _, m := range members {
		off := fmt.Sprintf("%d", m.Offset.Bytes())
		if m.Offset%8 != 0 || m.BitfieldSize != 0 {
			off = fmt.Sprintf("%d:%d", m.Offset/8, m.Offset%8)
		}
		name := m.Name
		if m.BitfieldSize != 0 {
			name = fmt.Sprintf("%s:%d", name, m.BitfieldSize)
		}
		fmt.Fprintf(w, "\t/* %6s */ %s %s;\n", off, btfproto.TypeString(m.Type), name)
	}
	fmt.Fprintln(w, "}")
}
