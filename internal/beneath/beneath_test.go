package beneath

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// plant builds a directory with links pointing out of it at a victim
// directory, and returns both.
func plant(t *testing.T) (root, victim string) {
	t.Helper()
	base := t.TempDir()
	root, victim = filepath.Join(base, "root"), filepath.Join(base, "victim")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "sub"), 0o755))
	require.NoError(t, os.MkdirAll(victim, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(victim, "file"), []byte("victim"), 0o644))
	require.NoError(t, os.Symlink(victim, filepath.Join(root, "dirlink")))
	require.NoError(t, os.Symlink(filepath.Join(victim, "file"), filepath.Join(root, "filelink")))
	require.NoError(t, os.Symlink("../../victim", filepath.Join(root, "sub", "rel")))
	require.NoError(t, os.WriteFile(filepath.Join(root, "existing"), []byte("old"), 0o644))
	return root, victim
}

func TestWriteRefusesLinksAndEscapes(t *testing.T) {
	root, victim := plant(t)
	d, err := Open(root)
	require.NoError(t, err)
	defer d.Close()
	for _, tc := range []struct {
		rel  string
		mode Mode
		want error
	}{
		{"dirlink/new", Replace, ErrLink},
		{"dirlink/file", Replace, ErrLink},
		{"filelink", Replace, ErrLink},
		{"filelink", Exclusive, ErrLink},
		{"filelink/x", Replace, ErrLink},
		{"sub/rel/new", Replace, ErrLink},
		{"sub/rel/../planted", Replace, ErrEscape},
		{"../victim/file", Replace, ErrEscape},
		{"/etc/passwd", Replace, ErrEscape},
		{"existing", Exclusive, ErrExists},
	} {
		err := d.WriteFile(tc.rel, []byte("guest"), 0o644, tc.mode)
		assert.ErrorIs(t, err, tc.want, "WriteFile(%q) = %v", tc.rel, err)
		if tc.want != ErrExists {
			err = d.WriteAtomic(tc.rel, []byte("guest"), 0o644)
			assert.ErrorIs(t, err, tc.want, "WriteAtomic(%q) = %v", tc.rel, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(victim, "file"))
	require.NoError(t, err)
	assert.Equal(t, "victim", string(b), "the victim file was written through a link")
	ents, err := os.ReadDir(victim)
	require.NoError(t, err)
	assert.Len(t, ents, 1, "a file appeared in the victim directory: %v", ents)
	b, _ = os.ReadFile(filepath.Join(root, "existing"))
	assert.Equal(t, "old", string(b))
}

func TestWriteCreatesBeneath(t *testing.T) {
	root, _ := plant(t)
	d, err := Open(root)
	require.NoError(t, err)
	defer d.Close()
	require.NoError(t, d.WriteFile("a/b/c.txt", []byte("x"), 0o644, Exclusive))
	require.NoError(t, d.WriteFile("existing", []byte("new"), 0o644, Replace))
	require.NoError(t, d.WriteAtomic("a/b/c.txt", []byte("y"), 0o644))
	b, _ := os.ReadFile(filepath.Join(root, "a/b/c.txt"))
	assert.Equal(t, "y", string(b))
	b, _ = os.ReadFile(filepath.Join(root, "existing"))
	assert.Equal(t, "new", string(b))
	sub, err := d.MkdirAll("k/6.1", 0o755)
	require.NoError(t, err)
	require.NoError(t, sub.WriteFile("output.log", []byte("out"), 0o644, Replace))
	sub.Close()
	_, err = d.MkdirAll("dirlink/x", 0o755)
	assert.ErrorIs(t, err, ErrLink)
	f, err := d.Open("filelink")
	if f != nil {
		f.Close()
	}
	assert.ErrorIs(t, err, ErrLink)
}

func TestOpenRefusesLinkedRoot(t *testing.T) {
	root, victim := plant(t)
	_, err := Open(filepath.Join(root, "dirlink"))
	assert.ErrorIs(t, err, ErrLink)
	_, err = MkdirAll(filepath.Join(root, "dirlink"), 0o755)
	assert.ErrorIs(t, err, ErrLink)
	_ = victim
}
