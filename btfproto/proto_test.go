package btfproto

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels/kerneltest"
)

func versions(t *testing.T, fn string, names ...string) []Version {
	var out []Version
	for _, n := range names {
		p, err := Lookup(kerneltest.BTF(t, n), fn)
		v := Version{Kernel: n, Err: err}
		if err == nil {
			v.Proto = &p
		}
		out = append(out, v)
	}
	return out
}

func TestVfsUnlinkDrifts(t *testing.T) {
	vs := versions(t, "vfs_unlink", "5.10", "6.1", "6.12")
	for _, v := range vs {
		require.NoError(t, v.Err, v.Kernel)
		t.Logf("%s: %s", v.Kernel, v.Proto)
	}
	assert.Equal(t, "int vfs_unlink(struct inode *dir, struct dentry *dentry, struct inode **delegated_inode)", vs[0].Proto.String())
	a2, _ := vs[0].Proto.Arg(2)
	assert.Equal(t, Param{"dentry", "struct dentry *"}, a2)
	a2, _ = vs[1].Proto.Arg(2)
	assert.Equal(t, Param{"dir", "struct inode *"}, a2, "6.1 prepends mnt_userns")
	lines := Compare(vs)
	require.Len(t, lines, 5)
	assert.Equal(t, Same, lines[0].Change, "return")
	for _, l := range lines[1:] {
		assert.Equal(t, Retyped, l.Change, "%s: %v", l.Label(), l.Cells)
	}
	var b bytes.Buffer
	require.NoError(t, WriteSideBySide(&b, "vfs_unlink", vs))
	t.Logf("\n%s", b.String())
	assert.Contains(t, b.String(), "*  arg 2")
}

func TestProbeTargetsStable(t *testing.T) {
	for _, fn := range []string{"do_exit", "vfs_open", "tcp_v4_connect"} {
		t.Run(fn, func(t *testing.T) {
			vs := versions(t, fn, "5.10", "6.1", "6.12")
			for _, v := range vs {
				require.NoError(t, v.Err, v.Kernel)
			}
			lines := Compare(vs)
			assert.False(t, Changed(lines), "%v", lines)
			t.Logf("%s", vs[0].Proto)
		})
	}
}
