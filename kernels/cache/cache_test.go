package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultDir(t *testing.T) {
	tests := []struct {
		cm, xdg, home, want string
	}{
		{"/c", "/x", "/h", "/c"},
		{"", "/x", "/h", "/x/corematrix"},
		{"", "", "/h", "/h/.cache/corematrix"},
	}
	for _, tt := range tests {
		t.Setenv("CM_CACHE_DIR", tt.cm)
		t.Setenv("XDG_CACHE_HOME", tt.xdg)
		t.Setenv("HOME", tt.home)
		got, err := DefaultDir()
		assert.NoError(t, err, "DefaultDir(CM_CACHE_DIR=%q XDG_CACHE_HOME=%q HOME=%q) = %q, %v; want %q", tt.cm, tt.xdg, tt.home, got, err, tt.want)
		assert.Equal(t, tt.want, got, "DefaultDir(CM_CACHE_DIR=%q XDG_CACHE_HOME=%q HOME=%q) = %q, %v; want %q", tt.cm, tt.xdg, tt.home, got, err, tt.want)
	}
}

func TestBlobRoundTripAndCorruption(t *testing.T) {
	c, err := Open(t.TempDir())
	require.NoError(t, err)
	w, _ := c.Create()
	w.Write([]byte("kernel bytes"))
	_, _, err = w.Commit(strings.Repeat("a", 64))
	require.ErrorIs(t, err, ErrCorrupt, "Commit with a wrong expected hash = %v, want ErrCorrupt", err)
	w, _ = c.Create()
	w.Write([]byte("kernel bytes"))
	sum, p, err := w.Commit("")
	require.NoError(t, err)
	got, err := c.Blob(sum)
	require.NoError(t, err, "Blob = %q, %v; want %q", got, err, p)
	require.Equal(t, p, got, "Blob = %q, %v; want %q", got, err, p)
	os.WriteFile(p, []byte("kernel bytez"), 0o644)
	_, err = c.Blob(sum)
	require.ErrorIs(t, err, ErrCorrupt, "Blob of a corrupted file = %v, want ErrCorrupt", err)
	_, err = os.Stat(p)
	require.ErrorIs(t, err, os.ErrNotExist, "corrupt blob not removed: %v", err)
	_, err = c.Blob(sum)
	require.ErrorIs(t, err, ErrMiss, "Blob after removal = %v, want ErrMiss", err)
	ents, _ := os.ReadDir(filepath.Join(c.Dir(), "tmp"))
	require.Empty(t, ents, "temporary files left behind: %v", ents)
}

func TestRecords(t *testing.T) {
	c, _ := Open(t.TempDir())
	type rec struct{ A string }
	var got rec
	_, err := c.GetRecord("k 1", &got)
	require.ErrorIs(t, err, ErrMiss, "GetRecord of a missing key = %v, want ErrMiss", err)
	require.NoError(t, c.PutRecord("k 1", rec{"x"}))
	// Keys that sanitise to the same prefix do not collide.
	c.PutRecord("k/1", rec{"y"})
	w, err := c.GetRecord("k 1", &got)
	require.NoError(t, err, "GetRecord = %+v, %v,", got, w)
	require.EqualValues(t, "x", got.A, "GetRecord = %+v, %v, %v", got, w, err)
	require.False(t, time.Since(w) > time.Minute, "GetRecord = %+v, %v, %v", got, w, err)
	ents, _ := os.ReadDir(filepath.Join(c.Dir(), "records"))
	os.WriteFile(filepath.Join(c.Dir(), "records", ents[0].Name()), []byte("{garbage"), 0o644)
	var a, b rec
	_, errA := c.GetRecord("k 1", &a)
	_, errB := c.GetRecord("k/1", &b)
	require.False(t, !errors.Is(errA, ErrCorrupt) && !errors.Is(errB, ErrCorrupt), "corrupt record not reported: %v, %v", errA, errB)
}

// TestLockSerialisesGoroutines runs the fetch pattern (lock, check, fill)
// from many goroutines: exactly one fills.
func TestLockSerialisesGoroutines(t *testing.T) {
	c, _ := Open(t.TempDir())
	var fills, inside atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			unlock, err := c.Lock(context.Background(), "thing")
			if err != nil {
				assert.NoError(t, err)
				return
			}
			defer unlock()
			assert.EqualValues(t, 1, inside.Add(1), "two holders of one lock")
			defer inside.Add(-1)
			var v string
			if _, err := c.GetRecord("thing", &v); errors.Is(err, ErrMiss) {
				fills.Add(1)
				time.Sleep(10 * time.Millisecond)
				c.PutRecord("thing", "filled")
			}
		})
	}
	wg.Wait()
	n := fills.Load()
	require.EqualValues(t, 1, n, "filled %d times, want 1", n)
}

func TestLockHonoursContext(t *testing.T) {
	c, _ := Open(t.TempDir())
	unlock, err := c.Lock(context.Background(), "held")
	require.NoError(t, err)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Lock(ctx, "held")
	require.Error(t, err, "second Lock of a held lock succeeded")
}

func TestPrune(t *testing.T) {
	c, _ := Open(t.TempDir())
	put := func(s string) string {
		w, _ := c.Create()
		w.Write([]byte(s))
		sum, _, err := w.Commit("")
		require.NoError(t, err)
		return sum
	}
	old, fresh := put("old"), put("fresh")
	past := time.Now().Add(-48 * time.Hour)
	os.Chtimes(c.BlobPath(old), past, past)
	c.PutRecord("r", 1)
	st, err := c.Prune(context.Background(), 24*time.Hour)
	require.NoError(t, err, "Prune = %+v, %v; want 1 file", st, err)
	require.EqualValues(t, 1, st.Files, "Prune = %+v, %v; want 1 file", st, err)
	_, err = c.Blob(old)
	require.ErrorIs(t, err, ErrMiss, "old blob survived: %v", err)
	_, err = c.Blob(fresh)
	require.NoError(t, err, "fresh blob pruned")
	var v int
	_, err = c.GetRecord("r", &v)
	require.NoError(t, err, "record pruned by an age prune")
	_, err = c.Prune(context.Background(), 0)
	require.NoError(t, err)
	u, _ := c.Usage()
	require.EqualValues(t, 0, u.Files, "Prune(0) left %d blobs", u.Files)
	_, err = c.GetRecord("r", &v)
	require.ErrorIs(t, err, ErrMiss, "Prune(0) left the record: %v", err)
}

// TestPruneTrees: an unpacked modules tree goes with its archive blob (an
// age prune), every tree goes with --all, and a link planted in trees/ is
// never followed.
func TestPruneTrees(t *testing.T) {
	c, _ := Open(t.TempDir())
	put := func(s string) string {
		w, _ := c.Create()
		w.Write([]byte(s))
		sum, _, err := w.Commit("")
		require.NoError(t, err)
		return sum
	}
	tree := func(sum string) string {
		dir := filepath.Join(c.Dir(), "trees", sum, "6.1.0-50-cloud-amd64", "kernel")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "fuse.ko"), []byte("ko"), 0o644))
		return filepath.Join(c.Dir(), "trees", sum)
	}
	old, fresh := put("old modules"), put("fresh modules")
	oldTree, freshTree := tree(old), tree(fresh)
	past := time.Now().Add(-48 * time.Hour)
	require.NoError(t, os.Chtimes(c.BlobPath(old), past, past))

	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "keep"), []byte("x"), 0o644))
	linkName := strings.Repeat("a", 64)
	require.NoError(t, os.Symlink(outside, filepath.Join(c.Dir(), "trees", linkName)))

	_, err := c.Prune(context.Background(), 24*time.Hour)
	require.NoError(t, err)
	require.NoDirExists(t, oldTree, "the tree of a pruned archive stayed")
	require.DirExists(t, freshTree, "the tree of a cached archive was pruned")

	st, err := c.Prune(context.Background(), 0)
	require.NoError(t, err)
	require.NoDirExists(t, freshTree, "Prune(0) left a modules tree")
	require.GreaterOrEqual(t, st.Files, 2, "Prune(0) = %+v: the blob and the tree's module count", st)
	require.FileExists(t, filepath.Join(outside, "keep"), "prune followed a link out of trees/")
}
