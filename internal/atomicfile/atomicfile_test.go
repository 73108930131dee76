package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteFileReplacesAndLeavesNoTemporaryFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	path := filepath.Join(dir, "f.json")
	require.NoError(t, WriteFile(path, []byte("old"), 0o644))
	require.NoError(t, WriteFile(path, []byte("new"), 0o640))

	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "new", string(got))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "only the file itself: %v", entries)
}

func TestAbortRemovesAndCommitAfterAbortFails(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, "x-*")
	require.NoError(t, err)
	_, err = w.Write([]byte("partial"))
	require.NoError(t, err)
	w.Abort()
	_, err = os.Stat(w.Name())
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Error(t, w.Commit(filepath.Join(dir, "final"), 0), "commit of an aborted file")
	_, err = os.Stat(filepath.Join(dir, "final"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestCommitKeepsTheTemporaryModeWithPermZero(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, "x-*")
	require.NoError(t, err)
	_, err = w.Write([]byte("blob"))
	require.NoError(t, err)
	final := filepath.Join(dir, "blob")
	require.NoError(t, w.Commit(final, 0))
	st, err := os.Stat(final)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	w.Abort() // after Commit: a no-op that must not remove the file
	_, err = os.Stat(final)
	assert.NoError(t, err)
}
