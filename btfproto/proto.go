package btfproto

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// ErrNotFound is returned when a function is not in a kernel's BTF: it does
// not exist there, or every call to it was inlined.
var ErrNotFound = errors.New("function not in BTF")

// Param is one parameter of a prototype.
type Param struct {
	// Name is the parameter's name; BTF may leave it empty.
	Name string `json:"name"`
	// Type is the parameter's type as C spells it, e.g. "struct dentry *".
	Type string `json:"type"`
}

// String returns "TYPE NAME" ("struct dentry *dentry").
func (p Param) String() string {
	if p.Name == "" {
		return p.Type
	}
	if strings.HasSuffix(p.Type, "*") {
		return p.Type + p.Name
	}
	return p.Type + " " + p.Name
}

// Proto is the prototype of one kernel function.
type Proto struct {
	Name string `json:"name"`
	// Return is the return type as C spells it ("void" for none).
	Return string  `json:"return"`
	Params []Param `json:"params"`
	// Variadic is true when the prototype ends in "...".
	Variadic bool `json:"variadic,omitempty"`
	// Linkage is "static", "global" or "extern", as BTF records it.
	Linkage string `json:"linkage"`
}

// String renders the prototype as a C declaration:
// "int vfs_unlink(struct inode *dir, struct dentry *dentry, ...)".
func (p Proto) String() string {
	parts := make([]string, 0, len(p.Params)+1)
	for _, a := range p.Params {
		parts = append(parts, a.String())
	}
	if p.Variadic {
		parts = append(parts, "...")
	}
	if len(parts) == 0 {
		parts = append(parts, "void")
	}
	ret := p.Return
	if !strings.HasSuffix(ret, "*") {
		ret += " "
	}
	return fmt.Sprintf("%s%s(%s)", ret, p.Name, strings.Join(parts, ", "))
}

// Arg returns the parameter at 1-based position n (PT_REGS_PARMn), or false
// when the function has fewer parameters.
func (p Proto) Arg(n int) (Param, bool) {
	if n < 1 || n > len(p.Params) {
		return Param{}, false
	}
	return p.Params[n-1], true
}

// Lookup returns the prototype of the function name in spec. When BTF holds
// several functions of that name (static functions of different files), the
// first is returned. A name that is not a function in spec is ErrNotFound.
func Lookup(spec *btf.Spec, name string) (Proto, error) {
	types, err := spec.AnyTypesByName(name)
	if err != nil && !errors.Is(err, btf.ErrNotFound) {
		return Proto{}, fmt.Errorf("prototype of %s: %w", name, err)
	}
	for _, t := range types {
		fn, ok := t.(*btf.Func)
		if !ok {
			continue
		}
		return FromFunc(fn)
	}
	return Proto{}, fmt.Errorf("prototype of %s: %w", name, ErrNotFound)
}

// FromFunc returns the prototype of a BTF function.
func FromFunc(fn *btf.Func) (Proto, error) {
	fp, ok := fn.Type.(*btf.FuncProto)
	if !ok {
		return Proto{}, fmt.Errorf("prototype of %s: BTF type is %T, not a function prototype", fn.Name, fn.Type)
	}
	p := Proto{Name: fn.Name, Return: TypeString(fp.Return), Linkage: fn.Linkage.String()}
	for i, a := range fp.Params {
		// BTF marks "..." as a last parameter of type void without a name.
		if _, void := a.Type.(*btf.Void); void && a.Name == "" && i == len(fp.Params)-1 {
			p.Variadic = true
			continue
		}
		p.Params = append(p.Params, Param{Name: a.Name, Type: TypeString(a.Type)})
	}
	return p, nil
}

// TypeString renders a BTF type reference the way C spells it, briefly:
// "struct dentry *", "const char *", "umode_t", "int (*)(void *)".
func TypeString(t btf.Type) string {
	switch t := t.(type) {
	case nil:
		return "void"
	case *btf.Pointer:
		if fp, ok := t.Target.(*btf.FuncProto); ok {
			return funcPointer(fp)
		}
		s := TypeString(t.Target)
		if strings.HasSuffix(s, "*") {
			return s + "*"
		}
		return s + " *"
	case *btf.Array:
		return fmt.Sprintf("%s[%d]", TypeString(t.Type), t.Nelems)
	case *btf.Const:
		return "const " + TypeString(t.Type)
	case *btf.Volatile:
		return "volatile " + TypeString(t.Type)
	case *btf.Restrict:
		return TypeString(t.Type) + " restrict"
	case *btf.Struct:
		return "struct " + anon(t.Name)
	case *btf.Union:
		return "union " + anon(t.Name)
	case *btf.Enum:
		return "enum " + anon(t.Name)
	case *btf.Fwd:
		return t.Kind.String() + " " + t.Name
	case *btf.FuncProto:
		return funcPointer(t)
	case *btf.Void:
		return "void"
	case *btf.TypeTag:
		return TypeString(t.Type)
	}
	if n := t.TypeName(); n != "" {
		return n
	}
	return fmt.Sprintf("%T", t)
}

func funcPointer(fp *btf.FuncProto) string {
	args := make([]string, 0, len(fp.Params))
	for _, a := range fp.Params {
		if _, void := a.Type.(*btf.Void); void && a.Name == "" {
			args = append(args, "...")
			continue
		}
		args = append(args, TypeString(a.Type))
	}
	if len(args) == 0 {
		args = append(args, "void")
	}
	return fmt.Sprintf("%s (*)(%s)", TypeString(fp.Return), strings.Join(args, ", "))
}

func anon(n string) string {
	if n == "" {
		return "{...}"
	}
	return n
}
