package corerelo

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cilium/ebpf/btf"
)

func TestAccessPath(t *testing.T) {
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	kuid := &btf.Struct{Name: "kuid_t", Size: 4, Members: []btf.Member{{Name: "val", Type: u32}}}
	arr := &btf.Array{Type: u32, Nelems: 4}
	anon := &btf.Union{Size: 4, Members: []btf.Member{{Name: "a", Type: u32}, {Name: "b", Type: u32}}}
	cred := &btf.Struct{Name: "cred", Size: 32, Members: []btf.Member{
		{Name: "usage", Type: u32},
		{Name: "uid", Type: &btf.Typedef{Name: "kuid_t", Type: kuid}, Offset: 32},
		{Name: "caps", Type: arr, Offset: 64},
		{Name: "", Type: anon, Offset: 192},
	}}
	enum := &btf.Enum{Name: "pid_type", Size: 4, Values: []btf.EnumValue{{Name: "PIDTYPE_PID", Value: 0}, {Name: "PIDTYPE_TGID", Value: 1}}}

	tests := []struct {
		typ  btf.Type
		kind Kind
		idx  []int
		want string
	}{
		{cred, FieldByteOffset, []int{0, 0}, "cred.usage"},
		{cred, FieldByteOffset, []int{0, 1, 0}, "cred.uid.val"},
		{cred, FieldByteOffset, []int{0, 2, 3}, "cred.caps[3]"},
		{cred, FieldExists, []int{0, 3, 1}, "cred.b"},
		{cred, FieldByteOffset, []int{2, 0}, "cred[2].usage"},
		{cred, FieldByteOffset, []int{0, 9}, "cred.#9"},
		{cred, TypeExists, []int{0}, "cred"},
		{enum, EnumvalValue, []int{1}, "pid_type::PIDTYPE_TGID"},
		{enum, EnumvalExists, []int{7}, "pid_type::#[7]"},
	}
	for _, tt := range tests {
		got := accessPath(tt.typ, tt.kind, tt.idx)
		assert.Equal(t, tt.want, got, "accessPath(%s, %s, %v) = %q, want %q", tt.typ.TypeName(), tt.kind, tt.idx, got, tt.want)
	}
}
