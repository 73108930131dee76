package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Writer is a temporary file that Commit renames into place.
type Writer struct {
	f    *os.File
	done bool
}

// Create starts a temporary file in dir, named after pattern as
// os.CreateTemp does. dir must be on the same file system as the path the
// file is committed to. The file's mode is 0600 until Commit.
func Create(dir, pattern string) (*Writer, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &Writer{f: f}, nil
}

// Write writes p to the temporary file.
func (w *Writer) Write(p []byte) (int, error) { return w.f.Write(p) }

// Name is the temporary file's path.
func (w *Writer) Name() string { return w.f.Name() }

// Commit sets the file's mode to perm (unless perm is 0), syncs and closes
// it, and renames it to path. After an error the temporary file is gone.
func (w *Writer) Commit(path string, perm os.FileMode) error {
	defer w.Abort()
	if perm != 0 {
		if err := w.f.Chmod(perm); err != nil {
			return err
		}
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(w.f.Name(), path); err != nil {
		return err
	}
	w.done = true
	return nil
}

// Abort discards an uncommitted file. It is safe to call after Commit.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

// WriteFile writes data to path atomically, with mode perm, creating path's
// directory when it is missing. The temporary file sits next to path.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	w, err := Create(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return w.Commit(path, perm)
}
