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
		if got, err := DefaultDir(); err != nil || got != tt.want {
			t.Errorf("DefaultDir(CM_CACHE_DIR=%q XDG_CACHE_HOME=%q HOME=%q) = %q, %v; want %q", tt.cm, tt.xdg, tt.home, got, err, tt.want)
		}
	}
}

func TestBlobRoundTripAndCorruption(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w, _ := c.Create()
	w.Write([]byte("kernel bytes"))
	if _, _, err := w.Commit(strings.Repeat("a", 64)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Commit with a wrong expected hash = %v, want ErrCorrupt", err)
	}
	w, _ = c.Create()
	w.Write([]byte("kernel bytes"))
	sum, p, err := w.Commit("")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Blob(sum); err != nil || got != p {
		t.Fatalf("Blob = %q, %v; want %q", got, err, p)
	}
	os.WriteFile(p, []byte("kernel bytez"), 0o644)
	if _, err := c.Blob(sum); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Blob of a corrupted file = %v, want ErrCorrupt", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("corrupt blob not removed: %v", err)
	}
	if _, err := c.Blob(sum); !errors.Is(err, ErrMiss) {
		t.Fatalf("Blob after removal = %v, want ErrMiss", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(c.Dir(), "tmp")); len(ents) != 0 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
}

func TestRecords(t *testing.T) {
	c, _ := Open(t.TempDir())
	type rec struct{ A string }
	var got rec
	if _, err := c.GetRecord("k 1", &got); !errors.Is(err, ErrMiss) {
		t.Fatalf("GetRecord of a missing key = %v, want ErrMiss", err)
	}
	if err := c.PutRecord("k 1", rec{"x"}); err != nil {
		t.Fatal(err)
	}
	// Keys that sanitise to the same prefix do not collide.
	c.PutRecord("k/1", rec{"y"})
	if w, err := c.GetRecord("k 1", &got); err != nil || got.A != "x" || time.Since(w) > time.Minute {
		t.Fatalf("GetRecord = %+v, %v, %v", got, w, err)
	}
	ents, _ := os.ReadDir(filepath.Join(c.Dir(), "records"))
	os.WriteFile(filepath.Join(c.Dir(), "records", ents[0].Name()), []byte("{garbage"), 0o644)
	var a, b rec
	_, errA := c.GetRecord("k 1", &a)
	_, errB := c.GetRecord("k/1", &b)
	if !errors.Is(errA, ErrCorrupt) && !errors.Is(errB, ErrCorrupt) {
		t.Fatalf("corrupt record not reported: %v, %v", errA, errB)
	}
}

// TestLockSerialisesGoroutines runs the fetch pattern (lock, check, fill)
// from many goroutines: exactly one fills.
func TestLockSerialisesGoroutines(t *testing.T) {
	c, _ := Open(t.TempDir())
	var fills, inside atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := c.Lock(context.Background(), "thing")
			if err != nil {
				t.Error(err)
				return
			}
			defer unlock()
			if inside.Add(1) != 1 {
				t.Error("two holders of one lock")
			}
			defer inside.Add(-1)
			var v string
			if _, err := c.GetRecord("thing", &v); errors.Is(err, ErrMiss) {
				fills.Add(1)
				time.Sleep(10 * time.Millisecond)
				c.PutRecord("thing", "filled")
			}
		}()
	}
	wg.Wait()
	if n := fills.Load(); n != 1 {
		t.Fatalf("filled %d times, want 1", n)
	}
}

func TestLockHonoursContext(t *testing.T) {
	c, _ := Open(t.TempDir())
	unlock, err := c.Lock(context.Background(), "held")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Lock(ctx, "held"); err == nil {
		t.Fatal("second Lock of a held lock succeeded")
	}
}

func TestPrune(t *testing.T) {
	c, _ := Open(t.TempDir())
	put := func(s string) string {
		w, _ := c.Create()
		w.Write([]byte(s))
		sum, _, err := w.Commit("")
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	old, fresh := put("old"), put("fresh")
	past := time.Now().Add(-48 * time.Hour)
	os.Chtimes(c.BlobPath(old), past, past)
	c.PutRecord("r", 1)
	st, err := c.Prune(context.Background(), 24*time.Hour)
	if err != nil || st.Files != 1 {
		t.Fatalf("Prune = %+v, %v; want 1 file", st, err)
	}
	if _, err := c.Blob(old); !errors.Is(err, ErrMiss) {
		t.Fatalf("old blob survived: %v", err)
	}
	if _, err := c.Blob(fresh); err != nil {
		t.Fatalf("fresh blob pruned: %v", err)
	}
	var v int
	if _, err := c.GetRecord("r", &v); err != nil {
		t.Fatalf("record pruned by an age prune: %v", err)
	}
	if _, err := c.Prune(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if u, _ := c.Usage(); u.Files != 0 {
		t.Fatalf("Prune(0) left %d blobs", u.Files)
	}
	if _, err := c.GetRecord("r", &v); !errors.Is(err, ErrMiss) {
		t.Fatalf("Prune(0) left the record: %v", err)
	}
}
