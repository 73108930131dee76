package beneath

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrLink means a symbolic link stands where a directory or file belongs.
var ErrLink = errors.New("a symbolic link is in the way; refusing to follow it")

// ErrEscape means a path is absolute or climbs out with "..".
var ErrEscape = errors.New("path leaves the directory")

// ErrExists means a file is already there and replacing it was not allowed.
var ErrExists = errors.New("a file is already there")

// ErrNotRegular means something other than a regular file (a device, a pipe,
// a directory) stands where a regular file belongs.
var ErrNotRegular = errors.New("not a regular file")

// Dir is an open directory; paths given to its methods are relative to it.
type Dir struct {
	fd   int
	path string
}

// Path is the directory's path as it was named.
func (d *Dir) Path() string { return d.path }

// Close closes the directory.
func (d *Dir) Close() error { return unix.Close(d.fd) }

// Open opens the directory path, which must exist; its last component must
// not be a symbolic link.
func Open(path string) (*Dir, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: linkErr(path, err)}
	}
	return &Dir{fd: fd, path: path}, nil
}

// MkdirAll creates path and its parents as os.MkdirAll does, then opens it
// as Open does (its last component must not be a link).
func MkdirAll(path string, perm os.FileMode) (*Dir, error) {
	if err := os.MkdirAll(path, perm); err != nil {
		if st, lerr := os.Lstat(path); lerr == nil && st.Mode()&fs.ModeSymlink != 0 {
			return nil, &fs.PathError{Op: "mkdir", Path: path, Err: ErrLink}
		}
		return nil, err
	}
	return Open(path)
}

// linkErr turns the errno of an O_NOFOLLOW open of a link into ErrLink.
func linkErr(path string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		if st, lerr := os.Lstat(path); lerr == nil && st.Mode()&fs.ModeSymlink != 0 {
			return ErrLink
		}
	}
	return err
}

// split checks rel and returns its components.
func split(rel string) ([]string, error) {
	if filepath.IsAbs(rel) {
		return nil, ErrEscape
	}
	var parts []string
	for p := range strings.SplitSeq(rel, "/") {
		switch p {
		case "", ".":
			continue
		case "..":
			return nil, ErrEscape
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// openChild opens the directory name in dirfd, creating it when create.
func openChild(dirfd int, name string, create bool, perm os.FileMode) (int, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) && create {
		if err := unix.Mkdirat(dirfd, name, uint32(perm.Perm())); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, err
		}
		fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return -1, childErr(dirfd, name, err)
	}
	return fd, nil
}

// childErr names a link found at name in dirfd.
func childErr(dirfd int, name string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		var st unix.Stat_t
		if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return ErrLink
		}
	}
	return err
}

// walk opens the directory holding the last component of rel (creating
// the directories on the way when create) and returns its fd (to close,
// unless it is d's own) and the last component.
func (d *Dir) walk(rel string, create bool, perm os.FileMode) (int, string, error) {
	parts, err := split(rel)
	if err != nil {
		return -1, "", err
	}
	if len(parts) == 0 {
		return -1, "", errors.New("empty path")
	}
	fd := d.fd
	for _, p := range parts[:len(parts)-1] {
		next, err := openChild(fd, p, create, perm)
		if fd != d.fd {
			unix.Close(fd)
		}
		if err != nil {
			return -1, "", err
		}
		fd = next
	}
	return fd, parts[len(parts)-1], nil
}

func (d *Dir) pathErr(op, rel string, err error) error {
	return &fs.PathError{Op: op, Path: filepath.Join(d.path, rel), Err: err}
}

// MkdirAll creates the directory rel beneath d (and the directories on the
// way) and opens it. No component may be a link.
func (d *Dir) MkdirAll(rel string, perm os.FileMode) (*Dir, error) {
	parts, err := split(rel)
	if err != nil {
		return nil, d.pathErr("mkdir", rel, err)
	}
	fd, err := unix.Dup(d.fd)
	if err != nil {
		return nil, d.pathErr("mkdir", rel, err)
	}
	for _, p := range parts {
		next, err := openChild(fd, p, true, perm)
		unix.Close(fd)
		if err != nil {
			return nil, d.pathErr("mkdir", rel, err)
		}
		fd = next
	}
	return &Dir{fd: fd, path: filepath.Join(d.path, rel)}, nil
}

// Mode says what a write may do to a file already at its path.
type Mode int

const (
	// Exclusive refuses a file already there (ErrExists).
	Exclusive Mode = iota
	// Replace truncates a regular file already there.
	Replace
)

// Create creates the regular file rel beneath d for writing, creating the
// directories on the way (perm 0755). No component may be a link; a file
// already there is refused (Exclusive) or truncated (Replace) when it is a
// regular file.
func (d *Dir) Create(rel string, perm os.FileMode, mode Mode) (*os.File, error) {
	dfd, name, err := d.walk(rel, true, 0o755)
	if err != nil {
		return nil, d.pathErr("create", rel, err)
	}
	if dfd != d.fd {
		defer unix.Close(dfd)
	}
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
	if mode == Exclusive {
		flags |= unix.O_EXCL
	}
	fd, err := unix.Openat(dfd, name, flags, uint32(perm.Perm()))
	switch {
	case errors.Is(err, unix.EEXIST):
		var st unix.Stat_t
		if unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return nil, d.pathErr("create", rel, ErrLink)
		}
		return nil, d.pathErr("create", rel, ErrExists)
	case err != nil:
		return nil, d.pathErr("create", rel, childErr(dfd, name, err))
	}
	f := os.NewFile(uintptr(fd), filepath.Join(d.path, rel))
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = ErrNotRegular
	}
	if err == nil && mode == Replace {
		err = f.Truncate(0)
	}
	if err != nil {
		f.Close()
		return nil, d.pathErr("create", rel, err)
	}
	return f, nil
}

// WriteFile writes data to rel beneath d as Create does, with permission
// bits perm (less the umask).
func (d *Dir) WriteFile(rel string, data []byte, perm os.FileMode, mode Mode) error {
	f, err := d.Create(rel, perm, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteAtomic writes data to rel beneath d so that a reader sees the old
// content or the new, never a part: a temporary file in the same directory,
// synced, renamed into place. A link at rel is refused, not replaced.
func (d *Dir) WriteAtomic(rel string, data []byte, perm os.FileMode) error {
	dfd, name, err := d.walk(rel, true, 0o755)
	if err != nil {
		return d.pathErr("write", rel, err)
	}
	if dfd != d.fd {
		defer unix.Close(dfd)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG {
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return d.pathErr("write", rel, ErrLink)
		}
		return d.pathErr("write", rel, ErrNotRegular)
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := "." + name + ".tmp-" + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return d.pathErr("write", rel, err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm.Perm())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, name)
	}
	if err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return d.pathErr("write", rel, err)
	}
	return nil
}

// Open opens the regular file rel beneath d for reading; no component may
// be a link.
func (d *Dir) Open(rel string) (*os.File, error) {
	dfd, name, err := d.walk(rel, false, 0)
	if err != nil {
		return nil, d.pathErr("open", rel, err)
	}
	if dfd != d.fd {
		defer unix.Close(dfd)
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, d.pathErr("open", rel, childErr(dfd, name, err))
	}
	f := os.NewFile(uintptr(fd), filepath.Join(d.path, rel))
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = ErrNotRegular
		}
		return nil, d.pathErr("open", rel, err)
	}
	return f, nil
}

// Lstat describes rel beneath d without following a link at its end (nor
// on the way).
func (d *Dir) Lstat(rel string) (fs.FileMode, error) {
	dfd, name, err := d.walk(rel, false, 0)
	if err != nil {
		return 0, d.pathErr("lstat", rel, err)
	}
	if dfd != d.fd {
		defer unix.Close(dfd)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return 0, d.pathErr("lstat", rel, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		return fs.ModeSymlink, nil
	case unix.S_IFDIR:
		return fs.ModeDir, nil
	case unix.S_IFREG:
		return 0, nil
	}
	return fs.ModeIrregular, nil
}

// String is the directory's path.
func (d *Dir) String() string { return fmt.Sprint(d.path) }
