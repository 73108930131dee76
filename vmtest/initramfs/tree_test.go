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

	files, size, outsideLinks, err := TreeLinks(root, "/guest/pkg", 0, true)
	require.NoError(t, err)
	require.Empty(t, outsideLinks, "followed links are not listed")
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
	require.Error(t, err)
	_, _, _, err = TreeLinks(root, "/guest/pkg", 12, true)
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
	_, _, _, err := TreeLinks(filepath.Join(dir, "pkg"), "/p", 0, true)
	require.ErrorContains(t, err, "cycle")
}

// TestTreeKeepsLinksOut checks the default: a checkout holding
// keys -> ../../.ssh and pw -> /etc/passwd packs the links, not what they
// point at, and names them.
func TestTreeKeepsLinksOut(t *testing.T) {
	dir := t.TempDir()
	ssh := filepath.Join(dir, "home", ".ssh")
	root := filepath.Join(dir, "home", "src", "repo")
	require.NoError(t, os.MkdirAll(ssh, 0o700))
	require.NoError(t, os.MkdirAll(root, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ssh, "id_ed25519"), []byte("PRIVATE KEY"), 0o600))
	require.NoError(t, os.Symlink("../../.ssh", filepath.Join(root, "keys")))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(root, "pw")))
	require.NoError(t, os.WriteFile(filepath.Join(root, "main.go"), []byte("package main\n"), 0o644))
	for _, tree := range []func() ([]File, []string, error){
		func() ([]File, []string, error) {
			f, _, out, err := TreeLinks(root, "/src/repo", 0, false)
			return f, out, err
		},
		func() ([]File, []string, error) { f, _, err := Tree(root, "/src/repo", 0); return f, nil, err },
	} {
		files, outside, err := tree()
		require.NoError(t, err)
		got := map[string]File{}
		for _, f := range files {
			require.NotContains(t, f.Source, ".ssh", "a file outside the tree is packed: %+v", f)
			require.NotEqual(t, "/etc/passwd", f.Source)
			got[f.Name] = f
		}
		require.Equal(t, "../../.ssh", got["/src/repo/keys"].Link)
		require.Equal(t, "/etc/passwd", got["/src/repo/pw"].Link)
		require.NotContains(t, got, "/src/repo/keys/id_ed25519")
		if outside != nil {
			require.Equal(t, []string{"keys -> ../../.ssh", "pw -> /etc/passwd"}, outside)
		}
	}
}
