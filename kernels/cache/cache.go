package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/corematrix/corematrix/internal/atomicfile"
)

// ErrCorrupt is returned when a cached blob does not hash to its name.
var ErrCorrupt = errors.New("cache entry is corrupt")

// ErrMiss is returned when an entry is not in the cache.
var ErrMiss = errors.New("not in cache")

// Cache is a cache directory.
type Cache struct {
	dir string
}

// DefaultDir returns the cache directory: $CM_CACHE_DIR, else
// $XDG_CACHE_HOME/corematrix, else ~/.cache/corematrix.
func DefaultDir() (string, error) {
	if d := os.Getenv("CM_CACHE_DIR"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "corematrix"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	return filepath.Join(home, ".cache", "corematrix"), nil
}

// Open returns the cache in dir, creating its layout.
func Open(dir string) (*Cache, error) {
	if dir == "" {
		var err error
		if dir, err = DefaultDir(); err != nil {
			return nil, err
		}
	}
	for _, sub := range []string{"blobs/sha256", "records", "locks", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("open cache: %w", err)
		}
	}
	return &Cache{dir: dir}, nil
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

// BlobPath returns where the blob with the given SHA-256 lives.
func (c *Cache) BlobPath(sum string) string {
	return filepath.Join(c.dir, "blobs", "sha256", sum)
}

func validSum(sum string) bool {
	if len(sum) != 64 {
		return false
	}
	_, err := hex.DecodeString(sum)
	return err == nil && strings.ToLower(sum) == sum
}

// Blob returns the path of the blob sum after checking that its content still
// hashes to sum. A corrupt blob is removed and ErrCorrupt returned, so the
// caller fetches it again; a missing one gives ErrMiss.
func (c *Cache) Blob(sum string) (string, error) {
	if !validSum(sum) {
		return "", fmt.Errorf("blob %q: not a sha256", sum)
	}
	p := c.BlobPath(sum)
	got, err := HashFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("blob %s: %w", sum[:12], ErrMiss)
	}
	if err != nil {
		return "", err
	}
	if got != sum {
		os.Remove(p)
		return "", fmt.Errorf("blob %s hashes to %s, removed: %w", sum[:12], got[:12], ErrCorrupt)
	}
	return p, nil
}

// HashFile returns the hex SHA-256 of the file at path.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// BlobWriter writes a new blob; Commit moves it into place under its hash.
type BlobWriter struct {
	c *Cache
	f *atomicfile.Writer
	h hashWriter
	n int64
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

// Create starts writing a new blob into a temporary file.
func (c *Cache) Create() (*BlobWriter, error) {
	f, err := atomicfile.Create(filepath.Join(c.dir, "tmp"), "blob-*")
	if err != nil {
		return nil, fmt.Errorf("create blob: %w", err)
	}
	return &BlobWriter{c: c, f: f, h: sha256.New()}, nil
}

// Write writes p to the blob.
func (w *BlobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Size returns the number of bytes written so far.
func (w *BlobWriter) Size() int64 { return w.n }

// Sum returns the hex SHA-256 of the bytes written so far.
func (w *BlobWriter) Sum() string { return hex.EncodeToString(w.h.Sum(nil)) }

// Commit syncs the blob and renames it into place. When want is not empty the
// content must hash to it. It returns the blob's hash and path.
func (w *BlobWriter) Commit(want string) (string, string, error) {
	defer w.Abort()
	sum := w.Sum()
	if want != "" && sum != strings.ToLower(want) {
		return "", "", fmt.Errorf("content hashes to %s, want %s: %w", sum, want, ErrCorrupt)
	}
	p := w.c.BlobPath(sum)
	if err := w.f.Commit(p, 0); err != nil {
		return "", "", fmt.Errorf("commit blob: %w", err)
	}
	return sum, p, nil
}

// Abort discards an uncommitted blob. It is safe to call after Commit.
func (w *BlobWriter) Abort() { w.f.Abort() }

// PutFile copies the file at path into the cache and returns its hash.
func (c *Cache) PutFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	w, err := c.Create()
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Abort()
		return "", err
	}
	sum, _, err := w.Commit("")
	return sum, err
}

// TempFile creates a temporary file inside the cache (same filesystem as the
// blobs), named "tmp-" + pattern. The caller removes it.
func (c *Cache) TempFile(pattern string) (*os.File, error) {
	return os.CreateTemp(filepath.Join(c.dir, "tmp"), "tmp-"+pattern)
}
