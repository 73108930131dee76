package main

import (
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// typeName renders a BTF type reference the way C spells it, briefly.
func typeName(t btf.Type) string {
	switch t := t.(type) {
	case *btf.Pointer:
		return typeName(t.Target) + " *"
	case *btf.Array:
		return fmt.Sprintf("%s[%d]", typeName(t.Type), t.Nelems)
	case *btf.Const:
		return "const " + typeName(t.Type)
	case *btf.Volatile:
		return "volatile " + typeName(t.Type)
	case *btf.Restrict:
		return typeName(t.Type) + " restrict"
	case *btf.Struct:
		return "struct " + anon(t.Name)
	case *btf.Union:
		return "union " + anon(t.Name)
	case *btf.Enum:
		return "enum " + anon(t.Name)
	case *btf.Fwd:
		return t.Kind.String() + " " + t.Name
	case *btf.FuncProto:
		return "func(...)"
	case *btf.Void:
		return "void"
	case *btf.TypeTag:
		return typeName(t.Type)
	}
	if n := t.TypeName(); n != "" {
		return n
	}
	return fmt.Sprintf("%T", t)
}

func anon(n string) string {
	if n == "" {
		return "{...}"
	}
	return n
}

// printType prints a type; structs and unions with their members' byte
// offsets, names and types.
func printType(t btf.Type) {
	var members []btf.Member
	switch t := t.(type) {
	case *btf.Struct:
		fmt.Printf("struct %s { // size %d\n", t.Name, t.Size)
		members = t.Members
	case *btf.Union:
		fmt.Printf("union %s { // size %d\n", t.Name, t.Size)
		members = t.Members
	case *btf.Enum:
		fmt.Printf("enum %s { // size %d\n", t.Name, t.Size)
		for _, v := range t.Values {
			fmt.Printf("\t%s = %d\n", v.Name, v.Value)
		}
		fmt.Println("}")
		return
	default:
		fmt.Printf("%s: %s\n", t.TypeName(), typeName(btf.UnderlyingType(t)))
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
		fmt.Printf("\t/* %6s */ %s %s;\n", off, typeName(m.Type), name)
	}
	fmt.Println("}")
}
