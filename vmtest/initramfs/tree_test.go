package initramfs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTree(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "pkg")
	outside := filepath.Join(dir, "outside")
	for _, d := range []string{"pkg/testdata/sub", "pkg/.git/objects", "outside/d"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	write := func(p, s string) { require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644)) }
	write("pkg/a_test.go", "package a\n")
	write("pkg/testdata/sub/x.elf", "elf")
	write("pkg/.git/objects/o", "git object")
	write("outside/f", "outside file")
	write("outside/d/g", "in outside dir")
	require.NoError(t, os.Symlink("sub/x.elf", filepath.Join(root, "testdata/rel")))
	require.NoError(t, os.Symlink(filepath.Join(root, "a_test.go"), filepath.Join(root, "testdata/abs")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "f"), filepath.Join(root, "outfile")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "d"), filepath.Join(root, "outdir")))
	require.NoError(t, os.Symlink("nowhere", filepath.Join(root, "dangling")))

	files, size, err := Tree(root, "/guest/pkg", 0)
	require.NoError(t, err)
	got := map[string]File{}
	for _, f := range files {
		got[f.Name] = f
	}
	require.NotContains(t, got, "/guest/pkg/.git")
	require.NotContains(t, got, "/guest/pkg/.git/objects/o")
	require.True(t, got["/guest/pkg"].Mode.IsDir())
	require.Equal(t, filepath.Join(root, "a_test.go"), got["/guest/pkg/a_test.go"].Source)
	require.Equal(t, "sub/x.elf", got["/guest/pkg/testdata/rel"].Link)
	require.Equal(t, "../a_test.go", got["/guest/pkg/testdata/abs"].Link, "absolute link inside the tree made relative")
	require.Equal(t, filepath.Join(outside, "f"), got["/guest/pkg/outfile"].Source, "link outside resolved")
	require.True(t, got["/guest/pkg/outdir"].Mode.IsDir())
	require.Equal(t, filepath.Join(outside, "d/g"), got["/guest/pkg/outdir/g"].Source)
	require.Equal(t, "nowhere", got["/guest/pkg/dangling"].Link)
	require.Equal(t, int64(len("package a\n")+len("elf")+len("outside file")+len("in outside dir")), size)

	_, _, err = Tree(root, "/guest/pkg", 12)
	var tl *TooLargeError
	require.ErrorAs(t, err, &tl)
	require.NotEmpty(t, tl.Largest)
	require.Contains(t, err.Error(), "limit 12 B")
}

func TestTreeLinkCycle(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "pkg"), 0o755))
	require.NoError(t, os.MkdirAll(out, 0o755))
	require.NoError(t, os.Symlink(out, filepath.Join(dir, "pkg/l")))
	require.NoError(t, os.Symlink(out, filepath.Join(out, "self")))
	_, _, err := Tree(filepath.Join(dir, "pkg"), "/p", 0)
	require.ErrorContains(t, err, "cycle")
}
