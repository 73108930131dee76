//go:build linux

package guest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMoveTree moves a staged tree into a destination that already has some
// of its directories, within one file system and across two (/dev/shm is a
// tmpfs, like the guest's /tmp over the initramfs).
func TestMoveTree(t *testing.T) {
	for name, stageRoot := range map[string]string{"same fs": t.TempDir(), "across fs": "/dev/shm"} {
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(stageRoot); err != nil {
				t.Skipf("%s: %v", stageRoot, err)
			}
			stage, err := os.MkdirTemp(stageRoot, "stage-")
			require.NoError(t, err)
			defer os.RemoveAll(stage)
			dst := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(stage, "pkg", "testdata"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(stage, "pkg", "testdata", "in.txt"), []byte("data"), 0o640))
			require.NoError(t, os.WriteFile(filepath.Join(stage, "pkg", "run.sh"), []byte("#!/bin/sh\n"), 0o755))
			require.NoError(t, os.Symlink("testdata/in.txt", filepath.Join(stage, "pkg", "link")))
			require.NoError(t, os.MkdirAll(filepath.Join(dst, "pkg"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dst, "pkg", "run.sh"), []byte("old"), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dst, "pkg", "kept"), []byte("kept"), 0o644))

			require.NoError(t, moveTree(stage, dst))
			b, err := os.ReadFile(filepath.Join(dst, "pkg", "link"))
			require.NoError(t, err)
			require.Equal(t, "data", string(b))
			st, err := os.Stat(filepath.Join(dst, "pkg", "testdata", "in.txt"))
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o640), st.Mode().Perm())
			b, err = os.ReadFile(filepath.Join(dst, "pkg", "run.sh"))
			require.NoError(t, err)
			require.Equal(t, "#!/bin/sh\n", string(b), "a staged file replaces what was there")
			st, err = os.Stat(filepath.Join(dst, "pkg", "run.sh"))
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o755), st.Mode().Perm())
			_, err = os.Stat(filepath.Join(dst, "pkg", "kept"))
			require.NoError(t, err, "directories merge")
		})
	}
}
