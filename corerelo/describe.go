package corerelo

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// ErrUnknownRelocation is returned for a CO-RE relocation this package cannot
// describe: cilium/ebpf keeps a relocation's fields unexported, and Describe
// reads them from its String form.
var ErrUnknownRelocation = errors.New("unrecognised CO-RE relocation")

// reloPattern matches btf.CORERelocation.String():
// "CORERelocation(byte_off, Struct:\"task_struct\"[0:1], local_id=7)".
var reloPattern = regexp.MustCompile(`^CORERelocation\(([a-z0-9_]+), (.*)\[([0-9:]*)\], local_id=([0-9]+)\)$`)

// Description is what a relocation says in the object's own terms.
type Description struct {
	// Kind is the relocation kind, e.g. field_byte_offset.
	Kind Kind `json:"kind"`
	// Type is the local type as named in the object, flavor suffix included
	// (e.g. "task_struct___pre514").
	Type string `json:"type"`
	// Access is the accessor spelled with member names, e.g.
	// "task_struct___pre514.state"; for type relocations the type's name,
	// for enum value relocations "type::VALUE".
	Access string `json:"access"`
	// Accessor is the raw accessor, e.g. "0:0".
	Accessor string `json:"accessor"`
}

// String is "KIND ACCESS", e.g. "field_byte_offset task_struct.real_parent".
func (d Description) String() string { return string(d.Kind) + " " + d.Access }

// Describe names relo using local, the BTF of the object it comes from: its
// kind, local type and the member path its accessor walks.
//
// cilium/ebpf keeps a relocation's fields unexported, so Describe parses
// relo.String(); a form it does not recognise is ErrUnknownRelocation (the
// tests run every relocation of a real object through it, so a cilium/ebpf
// upgrade that changes the form fails there first).
func Describe(relo *btf.CORERelocation, local *btf.Spec) (Description, error) {
	s := relo.String()
	m := reloPattern.FindStringSubmatch(s)
	if m == nil {
		return Description{}, fmt.Errorf("%w: %s", ErrUnknownRelocation, s)
	}
	kind, ok := ciliumKinds[m[1]]
	if !ok {
		return Description{}, fmt.Errorf("%w: kind %q", ErrUnknownRelocation, m[1])
	}
	id, err := strconv.ParseUint(m[4], 10, 32)
	if err != nil {
		return Description{}, fmt.Errorf("%w: %s", ErrUnknownRelocation, s)
	}
	var idx []int
	for f := range strings.SplitSeq(m[3], ":") {
		i, err := strconv.Atoi(f)
		if err != nil {
			return Description{}, fmt.Errorf("%w: accessor %q", ErrUnknownRelocation, m[3])
		}
		idx = append(idx, i)
	}

	d := Description{Kind: kind, Accessor: m[3]}
	var typ btf.Type
	if local != nil {
		typ, err = local.TypeByID(btf.TypeID(id))
	}
	if local == nil || err != nil {
		// Without the local type the raw form is still an honest name.
		d.Type = m[2]
		d.Access = m[2] + "[" + m[3] + "]"
		return d, nil
	}
	d.Type = typeName(typ)
	d.Access = accessPath(typ, kind, idx)
	return d, nil
}

// typeName names a type the way C source would, without the "struct" keyword.
func typeName(t btf.Type) string {
	if n := t.TypeName(); n != "" {
		return n
	}
	return fmt.Sprintf("(anon %T)", t)
}

// accessPath spells an accessor with member names: field relocations become
// "type.member.member" (with "[i]" for array elements and a leading "[i]" when
// the first index is not 0), enum value relocations "type::VALUE", type
// relocations just the type's name.
func accessPath(t btf.Type, kind Kind, idx []int) string {
	name := typeName(t)
	switch {
	case kind.IsEnumval():
		if e, ok := btf.UnderlyingType(t).(*btf.Enum); ok && len(idx) == 1 && idx[0] < len(e.Values) {
			return name + "::" + e.Values[idx[0]].Name
		}
		return fmt.Sprintf("%s::#%v", name, idx)
	case !kind.IsField():
		return name
	}

	var b strings.Builder
	b.WriteString(name)
	if len(idx) > 0 && idx[0] != 0 {
		fmt.Fprintf(&b, "[%d]", idx[0])
	}
	cur := t
	for _, i := range idx[1:] {
		switch u := btf.UnderlyingType(cur).(type) {
		case *btf.Struct:
			cur = memberStep(&b, u.Members, i)
		case *btf.Union:
			cur = memberStep(&b, u.Members, i)
		case *btf.Array:
			fmt.Fprintf(&b, "[%d]", i)
			cur = u.Type
		default:
			fmt.Fprintf(&b, ".#%d", i)
			return b.String()
		}
		if cur == nil {
			return b.String()
		}
	}
	return b.String()
}

// memberStep appends member i's name (nothing for an anonymous struct or
// union member) and returns its type, or nil when i is out of range.
func memberStep(b *strings.Builder, ms []btf.Member, i int) btf.Type {
	if i >= len(ms) {
		fmt.Fprintf(b, ".#%d", i)
		return nil
	}
	if ms[i].Name != "" {
		b.WriteString("." + ms[i].Name)
	}
	return ms[i].Type
}
