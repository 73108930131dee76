package modules

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
)

// Tree returns the directory holding the modules archive at blob unpacked
// (RELEASE/kernel/..., RELEASE/modules.dep), unpacking it under root the
// first time: into a temporary directory renamed into place, so a
// directory that exists is complete. sum names the directory (the archive's
// SHA-256, which the caller verified).
func Tree(blob, root, sum string) (string, error) {
	dir := filepath.Join(root, sum)
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return dir, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("modules tree: %w", err)
	}
	tmp, err := os.MkdirTemp(root, "tmp-")
	if err != nil {
		return "", fmt.Errorf("modules tree: %w", err)
	}
	f, err := os.Open(blob)
	if err == nil {
		err = Extract(f, tmp)
		f.Close()
	}
	if err == nil {
		err = os.Chmod(tmp, 0o755)
	}
	if err == nil {
		err = os.Rename(tmp, dir)
		if err != nil {
			if st, serr := os.Stat(dir); serr == nil && st.IsDir() {
				err = nil // another process won the race
			}
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("modules tree: %w", err)
	}
	return dir, nil
}

// Extract unpacks a modules archive written by Builder into dir: regular
// files only, at relative paths that stay below dir, within MaxModule each
// and MaxTotal in all.
func Extract(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read modules archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg || !validPath(h.Name) || path.Dir(h.Name) == "." {
			return fmt.Errorf("modules archive: unexpected entry %q", short(h.Name))
		}
		if h.Size > MaxModule || total+h.Size > MaxTotal {
			return fmt.Errorf("modules archive: %s: %d bytes: %w", h.Name, h.Size, ErrTooLarge)
		}
		total += h.Size
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, err = io.CopyN(f, tr, h.Size)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("modules archive: %s: %w", h.Name, err)
		}
	}
}
