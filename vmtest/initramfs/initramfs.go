package initramfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/cavaliergopher/cpio"
)

// File is one entry of the archive: a regular file, a symbolic link (Link
// set) or a directory (Mode has fs.ModeDir).
type File struct {
	// Name is the absolute path inside the guest ("/init").
	Name string
	// Source is a host file to copy; used when Data is nil.
	Source string
	// Data is the file's content.
	Data []byte
	// Mode holds the permission bits (0755 for executables), plus
	// fs.ModeDir for a directory.
	Mode fs.FileMode
	// Link, when set, makes the entry a symbolic link to Link; Source and
	// Data are then ignored.
	Link string
}

// Write writes a newc archive holding files and every directory above them.
// Directories are written before their contents; files keep their order.
func Write(w io.Writer, files []File) error {
	cw := cpio.NewWriter(w)
	dirs := map[string]bool{}
	var dirList []string
	for _, f := range files {
		name := path.Clean("/" + f.Name)
		if name == "/" {
			return fmt.Errorf("initramfs: file with empty name")
		}
		for d := path.Dir(name); d != "/"; d = path.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				dirList = append(dirList, d)
			}
		}
	}
	sort.Strings(dirList) // parents sort before children
	mtime := time.Unix(0, 0)
	for _, d := range dirList {
		hdr := &cpio.Header{Name: strings.TrimPrefix(d, "/"), Mode: cpio.TypeDir | 0o755, Links: 2, ModTime: mtime}
		if err := cw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("initramfs: write %s: %w", d, err)
		}
	}
	for _, f := range files {
		if err := writeFile(cw, f, mtime); err != nil {
			return fmt.Errorf("initramfs: write %s: %w", f.Name, err)
		}
	}
	if err := cw.Close(); err != nil {
		return fmt.Errorf("initramfs: close: %w", err)
	}
	return nil
}

// WriteFile writes the archive of files (Write) to a new file at path.
func WriteFile(path string, files []File) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create initramfs: %w", err)
	}
	if err := Write(f, files); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeFile(cw *cpio.Writer, f File, mtime time.Time) error {
	mode := cpio.FileMode(f.Mode.Perm())
	if mode == 0 && !f.Mode.IsDir() {
		mode = 0o644
	}
	name := strings.TrimPrefix(path.Clean("/"+f.Name), "/")
	if f.Mode.IsDir() {
		return cw.WriteHeader(&cpio.Header{Name: name, Mode: cpio.TypeDir | mode, Links: 2, ModTime: mtime})
	}
	if f.Link != "" {
		if err := cw.WriteHeader(&cpio.Header{Name: name, Mode: cpio.TypeSymlink | 0o777, Size: int64(len(f.Link)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := cw.Write([]byte(f.Link))
		return err
	}
	if f.Data != nil || f.Source == "" {
		if err := cw.WriteHeader(&cpio.Header{Name: name, Mode: cpio.TypeReg | mode, Size: int64(len(f.Data)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := cw.Write(f.Data)
		return err
	}
	src, err := os.Open(f.Source)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", f.Source)
	}
	if err := cw.WriteHeader(&cpio.Header{Name: name, Mode: cpio.TypeReg | mode, Size: st.Size(), ModTime: mtime}); err != nil {
		return err
	}
	n, err := io.Copy(cw, src)
	if err != nil {
		return err
	}
	if n != st.Size() {
		return fmt.Errorf("%s changed size while copying (%d of %d bytes)", f.Source, n, st.Size())
	}
	return nil
}
