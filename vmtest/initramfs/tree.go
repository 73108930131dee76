package initramfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// VCSDirs are the version-control folders Tree leaves out, at any depth.
var VCSDirs = []string{".git", ".hg", ".svn", ".bzr", ".jj", "_darcs", "CVS"}

// TooLargeError means a tree exceeds the size limit given to Tree.
type TooLargeError struct {
	Dir   string
	Limit int64
	// Size is what was counted before giving up (at least the limit).
	Size int64
	// Largest are the biggest top-level entries of Dir, largest first.
	Largest []Entry
}

// Entry is a top-level entry of a tree and the bytes under it.
type Entry struct {
	Name string
	Size int64
}

func (e *TooLargeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s holds more than %s (limit %s); largest entries:", e.Dir, human(e.Size), human(e.Limit))
	for _, l := range e.Largest {
		fmt.Fprintf(&b, " %s (%s),", l.Name, human(l.Size))
	}
	return strings.TrimSuffix(b.String(), ",")
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Tree is TreeLinks without following links that leave dir.
func Tree(dir, at string, limit int64) ([]File, int64, error) {
	files, n, _, err := TreeLinks(dir, at, limit, false)
	return files, n, err
}

// TreeLinks returns the entries that recreate the host directory dir at
// guest path at: its directories, regular files and symbolic links, without
// VCSDirs. Links whose target lies inside dir are kept as links (an absolute
// target is made relative, so the link also works when at differs from
// dir). Links that point outside dir are not followed: they are kept as
// they are (in the guest they point at the guest's own files, or nowhere)
// and returned in outside, as "path -> target", so that no file of the host
// outside dir (a key, /etc/passwd) reaches a guest that could send it back;
// with follow set they are resolved instead, the file or directory they
// point to copied in their place. A link whose target does not exist is
// kept as it is. Other file types (sockets, devices, fifos) are skipped.
// The regular files' sizes count against limit (0: no limit); beyond it
// TreeLinks returns a *TooLargeError naming the largest top-level entries.
func TreeLinks(dir, at string, limit int64, follow bool) (files []File, size int64, outside []string, err error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("tree %s: %w", dir, err)
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("tree %s: %w", dir, err)
	}
	t := &tree{root: root, at: path.Clean(at), limit: limit, sizes: map[string]int64{}, visiting: map[string]bool{}, follow: follow}
	st, err := os.Stat(root)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("tree %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, 0, nil, fmt.Errorf("tree %s: not a directory", dir)
	}
	t.add(File{Name: t.at, Mode: fs.ModeDir | st.Mode().Perm()}, "", 0)
	if err := t.walk(root, t.at, ""); err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, t.total, nil, t.tooLarge(dir)
		}
		return nil, 0, nil, err
	}
	return t.files, t.total, t.outside, nil
}

var errTooLarge = errors.New("too large")

type tree struct {
	root     string
	at       string
	limit    int64
	files    []File
	total    int64
	sizes    map[string]int64 // top-level entry -> bytes
	visiting map[string]bool  // real directories being walked (link cycles)
	follow   bool             // resolve links that leave the root
	outside  []string         // links that leave the root: "path -> target"
}

func (t *tree) add(f File, top string, size int64) error {
	t.files = append(t.files, f)
	t.total += size
	if top != "" {
		t.sizes[top] += size
	}
	if t.limit > 0 && t.total > t.limit {
		return errTooLarge
	}
	return nil
}

func (t *tree) tooLarge(dir string) error {
	e := &TooLargeError{Dir: dir, Limit: t.limit, Size: t.total}
	for n, s := range t.sizes {
		e.Largest = append(e.Largest, Entry{n, s})
	}
	sort.Slice(e.Largest, func(i, j int) bool {
		if e.Largest[i].Size != e.Largest[j].Size {
			return e.Largest[i].Size > e.Largest[j].Size
		}
		return e.Largest[i].Name < e.Largest[j].Name
	})
	if len(e.Largest) > 5 {
		e.Largest = e.Largest[:5]
	}
	return e
}

// walk adds the contents of host directory real at guest path g; top is the
// top-level entry being walked ("" at the root).
func (t *tree) walk(real, g, top string) error {
	if t.visiting[real] {
		return fmt.Errorf("tree: symbolic link cycle at %s", real)
	}
	t.visiting[real] = true
	defer delete(t.visiting, real)
	ents, err := os.ReadDir(real)
	if err != nil {
		return fmt.Errorf("tree: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() && isVCS(e.Name()) {
			continue
		}
		tp := top
		if tp == "" {
			tp = e.Name()
		}
		if err := t.entry(filepath.Join(real, e.Name()), path.Join(g, e.Name()), tp); err != nil {
			return err
		}
	}
	return nil
}

func (t *tree) entry(host, g, top string) error {
	st, err := os.Lstat(host)
	if err != nil {
		return fmt.Errorf("tree: %w", err)
	}
	switch m := st.Mode(); {
	case m.IsDir():
		if err := t.add(File{Name: g, Mode: fs.ModeDir | m.Perm()}, top, 0); err != nil {
			return err
		}
		return t.walk(host, g, top)
	case m.IsRegular():
		return t.add(File{Name: g, Source: host, Mode: m.Perm()}, top, st.Size())
	case m&fs.ModeSymlink != 0:
		return t.link(host, g, top)
	}
	return nil
}

func (t *tree) link(host, g, top string) error {
	target, err := os.Readlink(host)
	if err != nil {
		return fmt.Errorf("tree: %w", err)
	}
	real, err := filepath.EvalSymlinks(host)
	if errors.Is(err, fs.ErrNotExist) {
		return t.add(File{Name: g, Link: target}, top, 0)
	}
	if err != nil {
		return fmt.Errorf("tree: %w", err)
	}
	if rel, ok := t.inside(real); ok {
		if filepath.IsAbs(target) {
			// Point at the same entry relative to the link's directory.
			from, _ := filepath.Rel(t.root, mustReal(filepath.Dir(host)))
			target, _ = filepath.Rel(from, rel)
			target = filepath.ToSlash(target)
		}
		return t.add(File{Name: g, Link: target}, top, 0)
	}
	if !t.follow {
		// Outside the tree: kept as a link, not followed.
		rel, _ := filepath.Rel(t.root, host)
		t.outside = append(t.outside, filepath.ToSlash(rel)+" -> "+target)
		return t.add(File{Name: g, Link: target}, top, 0)
	}
	// Outside the tree, and asked to: copy what the link points to.
	st, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("tree: %w", err)
	}
	if st.IsDir() {
		if err := t.add(File{Name: g, Mode: fs.ModeDir | st.Mode().Perm()}, top, 0); err != nil {
			return err
		}
		return t.walk(real, g, top)
	}
	if !st.Mode().IsRegular() {
		return nil
	}
	return t.add(File{Name: g, Source: real, Mode: st.Mode().Perm()}, top, st.Size())
}

// inside returns real's path relative to the tree's root when it is in it.
func (t *tree) inside(real string) (string, bool) {
	rel, err := filepath.Rel(t.root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}

func mustReal(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func isVCS(name string) bool {
	return slices.Contains(VCSDirs, name)
}
