package main

import (
	"bytes"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	i32    = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	dentry = &btf.Struct{Name: "dentry", Size: 8, Members: []btf.Member{{Name: "d_flags", Type: i32}}}
)

// kernelWith builds BTF holding a function unlink(params...) returning int
// and a struct dentry.
func kernelWith(t *testing.T, params ...btf.FuncParam) *btf.Spec {
	t.Helper()
	fn := &btf.Func{Name: "unlink", Type: &btf.FuncProto{Return: i32, Params: params}, Linkage: btf.GlobalFunc}
	b, err := btf.NewBuilder([]btf.Type{fn, dentry}, nil)
	require.NoError(t, err)
	spec, err := b.Spec()
	require.NoError(t, err)
	return spec
}

func TestPrintBTF(t *testing.T) {
	dentryp := &btf.Pointer{Target: dentry}
	inode := &btf.Pointer{Target: &btf.Struct{Name: "inode"}}
	old := kernelWith(t, btf.FuncParam{Name: "dir", Type: inode}, btf.FuncParam{Name: "dentry", Type: dentryp})
	now := kernelWith(t, btf.FuncParam{Name: "idmap", Type: &btf.Pointer{Target: &btf.Struct{Name: "mnt_idmap"}}},
		btf.FuncParam{Name: "dir", Type: inode}, btf.FuncParam{Name: "dentry", Type: dentryp})

	var b bytes.Buffer
	require.NoError(t, printBTF(&b, "unlink", []string{"old"}, []*btf.Spec{old}))
	assert.Equal(t, "int unlink(struct inode *dir, struct dentry *dentry);\n", b.String())

	b.Reset()
	require.NoError(t, printBTF(&b, "unlink", []string{"old", "new"}, []*btf.Spec{old, now}))
	assert.Equal(t, ""+
		"   unlink  old                    new\n"+
		"   return  int                    int\n"+
		"*  arg 1   struct inode *dir      struct mnt_idmap *idmap\n"+
		"*  arg 2   struct dentry *dentry  struct inode *dir\n"+
		"*  arg 3   -                      struct dentry *dentry\n"+
		legendLine(), b.String())

	b.Reset()
	require.NoError(t, printBTF(&b, "unlink", []string{"a", "b"}, []*btf.Spec{old, old}))
	assert.NotContains(t, b.String(), "*  arg")
	assert.NotContains(t, b.String(), "type changed")

	b.Reset()
	require.NoError(t, printBTF(&b, "dentry", []string{"old"}, []*btf.Spec{old}))
	assert.Equal(t, "struct dentry { // size 8\n\t/*      0 */ int d_flags;\n}\n", b.String())

	err := printBTF(&b, "nope", []string{"old", "new"}, []*btf.Spec{old, now})
	assert.EqualError(t, err, "nope: not in the BTF of old, new")
}

func legendLine() string {
	return "(* type changed: a probe reading that position reads something else; ~ only the name changed; ? not in that kernel's BTF: absent or inlined)\n"
}
