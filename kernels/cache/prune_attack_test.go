package cache

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Prune --all removes only what the cache created: a file the
// user keeps in tmp/ or records/, or a symlink planted among the blobs,
// stays, and so does the symlink's target.
func TestPruneRemovesOnlyCacheEntries(t *testing.T) {
	c, err := Open(t.TempDir())
	require.NoError(t, err)
	sum, err := c.PutFile(writeTemp(t, "a kernel"))
	require.NoError(t, err)
	require.NoError(t, c.PutRecord("name 6.1", map[string]string{"sha256": sum}))
	outside := writeTemp(t, "precious")
	foreign := map[string]string{
		"tmp/notes.txt":            "mine",
		"records/important.json":   "{}",
		"blobs/sha256/README":      "mine",
		"blobs/sha256/" + sum[:63]: "not a sha256 name",
	}
	for p, data := range foreign {
		require.NoError(t, os.WriteFile(filepath.Join(c.Dir(), p), []byte(data), 0o644))
	}
	link := filepath.Join(c.Dir(), "blobs/sha256", strings.Repeat("ab", 32))
	require.NoError(t, os.Symlink(outside, link))

	st, err := c.Prune(context.Background(), 0)
	require.NoError(t, err)
	assert.Equal(t, 2, st.Files, "the blob and the record")
	for p := range foreign {
		assert.FileExists(t, filepath.Join(c.Dir(), p))
	}
	_, err = os.Lstat(link)
	assert.NoError(t, err, "planted symlink left alone")
	got, err := os.ReadFile(outside)
	require.NoError(t, err)
	assert.Equal(t, "precious", string(got))
	_, err = os.Stat(c.BlobPath(sum))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// A blobs/sha256 that is a symlink is refused, its target kept.
func TestPruneRefusesSymlinkedBlobDir(t *testing.T) {
	c, err := Open(t.TempDir())
	require.NoError(t, err)
	elsewhere := t.TempDir()
	victim := filepath.Join(elsewhere, strings.Repeat("cd", 32))
	require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o644))
	blobs := filepath.Join(c.Dir(), "blobs", "sha256")
	require.NoError(t, os.Remove(blobs))
	require.NoError(t, os.Symlink(elsewhere, blobs))
	_, err = c.Prune(context.Background(), 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a directory the cache made")
	assert.FileExists(t, victim)
}

// Prune waits for a fetch in progress instead of deleting its
// download.
func TestPruneWaitsForFetchInProgress(t *testing.T) {
	c, err := Open(t.TempDir())
	require.NoError(t, err)
	ctx := context.Background()
	unlock, err := c.Lock(ctx, "debian-deb-x")
	require.NoError(t, err)
	w, err := c.Create()
	require.NoError(t, err)
	_, err = w.Write([]byte("half a download"))
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() { _, err := c.Prune(ctx, 0); done <- err }()
	select {
	case err := <-done:
		require.Fail(t, fmt.Sprintf("prune ran during a fetch: %v", err))
	case <-time.After(300 * time.Millisecond):
	}
	_, err = w.Write([]byte(", the rest"))
	require.NoError(t, err)
	sum, _, err := w.Commit("")
	require.NoError(t, err, "the download survived")
	p, err := c.Blob(sum)
	require.NoError(t, err)
	got, _ := os.ReadFile(p)
	assert.Equal(t, "half a download, the rest", string(got))
	unlock()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		require.Fail(t, "prune did not run after the fetch ended")
	}

	// A deadline ends the wait with an error.
	unlock, err = c.Lock(ctx, "x")
	require.NoError(t, err)
	defer unlock()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = c.Prune(short, 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "prune: cache lock")
}

func writeTemp(t *testing.T, data string) string {
	p := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	return p
}
