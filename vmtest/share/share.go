// Package share gives a guest the host's tools and source tree, read-only
// and at the same paths: it chooses what to export (the host's system
// directories, /etc without credential files, the enclosing repository or
// module root, GOROOT, the Go module and build caches, and directories the
// user adds), decides per kernel whether it can mount them (virtiofs from
// the kernel's own modules, or 9p built in) or must fall back to packing,
// runs one virtiofsd per export around each QEMU run, and gives QEMU its
// arguments. The guest mounts each export read-only under a tmpfs overlay,
// so writes in the guest never reach the host.
//
// The guest is not trusted: a hostile kernel reads whatever is exported, so
// only what tests need is, and the daemons serve it read-only (the Rust
// virtiofsd with --readonly; the C daemon, root only, inside a mount
// namespace where its directory is a read-only bind mount; QEMU's 9p with
// readonly=on).
//
// It is host-side code of vmtest: it may import kernel (the identity of the
// kernel it decides for) and must not import kernels, report or the guest
// init.
package share

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
)

// Mode is how a guest gets its files.
type Mode string

// Modes.
const (
	VirtioFS Mode = "virtiofs"
	NineP    Mode = "9p"
	Packed   Mode = "packed"
)

// Export is one host directory the guest mounts read-only at the same path.
type Export struct {
	// Tag names the export to the guest (virtiofs tag, 9p mount_tag).
	Tag string
	// Host is the directory served; Guest where the guest mounts it
	// (the same path, except for the filtered copy of /etc).
	Host, Guest string
	// Overlay puts a tmpfs overlay on it for writes; the kernel's
	// modules tree is mounted without one.
	Overlay bool
}

// Link is a symbolic link the guest makes at Path, as the host has it
// (/bin -> usr/bin on a merged-/usr system).
type Link struct{ Path, Target string }

// Set is what a run shares: the exports and links every kernel of it gets.
type Set struct {
	Exports []Export
	Links   []Link
	// Env are variables the payload gets in a sharing guest (GOROOT,
	// GOCACHE, GOMODCACHE, GOPATH pointing at the shared paths), before
	// the user's own.
	Env []string
	// PathAppend are directories appended to the payload's PATH
	// (GOROOT/bin).
	PathAppend []string
	// Source says which source tree is shared and why ("" without a
	// working directory), for the report.
	Source string
	// SourceAlone is set when the working directory is in no repository
	// or module, so only the directory itself is shared.
	SourceAlone bool
}

// Options say what a run shares.
type Options struct {
	// WorkDir is the payload's working directory on the host: its
	// enclosing repository (a parent holding .git) or else module root
	// (the outermost parent holding go.mod) is shared, or else the
	// directory itself.
	WorkDir string
	// Extra are directories the user adds (--share DIR).
	Extra []string
	// TmpDir receives the filtered copy of /etc.
	TmpDir string
	// Root is the host's root ("/"; tests use another).
	Root string
	// Environ is the host environment (GOROOT, GOPATH, GOMODCACHE,
	// GOCACHE, HOME, XDG_CACHE_HOME, PATH are read from it).
	Environ []string
}

// systemDirs are the host directories shared as they are (a symlink is
// recreated as one).
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt"}

// secretNames are files and directories of /etc never copied, whatever
// their mode (they are also not world-readable on a sane host).
var secretNames = map[string]bool{
	"shadow": true, "shadow-": true, "gshadow": true, "gshadow-": true,
	"sudoers": true, "sudoers.d": true, "ssh": true, "ssl/private": true,
	"security/opasswd": true, "krb5.keytab": true, "credstore": true, "credstore.encrypted": true,
	"NetworkManager/system-connections": true, "wireguard": true, "ipsec.secrets": true,
	"docker": true, "containers/auth.json": true, "netrc": true,
}

// Collect returns the run's Set. Only directories that exist are shared;
// two exports on one file system where one holds the other are one export.
func Collect(o Options) (*Set, error) {
	env := envMap(o.Environ)
	root := o.Root
	if root == "" {
		root = "/"
	}
	s := &Set{}
	dirs, err := s.addSystem(root)
	if err != nil {
		return nil, err
	}
	if o.TmpDir != "" {
		etc := filepath.Join(o.TmpDir, "etc")
		if err := CopyEtc(filepath.Join(root, "etc"), etc); err != nil {
			return nil, err
		}
		s.Exports = append(s.Exports, Export{Tag: "cm-etc", Host: etc, Guest: "/etc", Overlay: true})
	}
	if o.WorkDir != "" {
		src, why := SourceRoot(o.WorkDir)
		dirs = append(dirs, src)
		s.Source = fmt.Sprintf("source tree %s (%s)", src, why)
		s.SourceAlone = why == WhyAlone
	}
	dirs = append(dirs, s.addGo(env)...)
	for _, d := range o.Extra {
		a, err := filepath.Abs(d)
		if err != nil || !isDir(a) {
			return nil, fmt.Errorf("--share %s: not a directory", d)
		}
		dirs = append(dirs, a)
	}
	for _, d := range dedupe(dirs) {
		s.Exports = append(s.Exports, Export{Tag: fmt.Sprintf("cm-%d", len(s.Exports)), Host: d, Guest: d, Overlay: true})
	}
	// Parents before children: the guest mounts in this order.
	sort.SliceStable(s.Exports, func(i, j int) bool { return depth(s.Exports[i].Guest) < depth(s.Exports[j].Guest) })
	return s, nil
}

// addSystem returns the system directories under root to share; those
// that are links on the host become links in s.
func (s *Set) addSystem(root string) ([]string, error) {
	var dirs []string
	for _, d := range systemDirs {
		p := filepath.Join(root, d)
		st, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if st.Mode()&os.ModeSymlink != 0 {
			t, err := os.Readlink(p)
			if err != nil {
				return nil, fmt.Errorf("share %s: %w", d, err)
			}
			s.Links = append(s.Links, Link{Path: d, Target: t})
			continue
		}
		if st.IsDir() {
			dirs = append(dirs, d)
		}
	}
	return dirs, nil
}

// addGo returns the Go tree, module cache and build cache of the
// environment env to share (those that exist), setting in s the variables
// env does not set and GOROOT/bin on the guest's PATH.
func (s *Set) addGo(env map[string]string) []string {
	loc := goLocations(env)
	var dirs []string
	for _, kv := range []struct{ name, dir string }{{"GOROOT", loc.goroot}, {"GOMODCACHE", loc.modcache}, {"GOCACHE", loc.gocache}} {
		if kv.dir == "" || !isDir(kv.dir) {
			continue
		}
		dirs = append(dirs, kv.dir)
		if env[kv.name] == "" {
			s.Env = append(s.Env, kv.name+"="+kv.dir)
		}
		if kv.name == "GOROOT" {
			s.PathAppend = append(s.PathAppend, filepath.Join(kv.dir, "bin"))
		}
	}
	if loc.gopath != "" && env["GOPATH"] == "" {
		s.Env = append(s.Env, "GOPATH="+loc.gopath)
	}
	return dirs
}

// goDirs are where the go command of an environment keeps its files.
type goDirs struct{ goroot, gopath, modcache, gocache string }

// goLocations returns where the go command of environment env keeps its
// files: the variables, else the go command's defaults ("" when unknown).
func goLocations(env map[string]string) goDirs {
	d := goDirs{goroot: env["GOROOT"], gopath: firstList(env["GOPATH"]), modcache: env["GOMODCACHE"], gocache: env["GOCACHE"]}
	if d.goroot == "" {
		d.goroot = findGOROOT(env["PATH"])
	}
	home := env["HOME"]
	if d.gopath == "" && home != "" {
		d.gopath = filepath.Join(home, "go")
	}
	if d.modcache == "" && d.gopath != "" {
		d.modcache = filepath.Join(d.gopath, "pkg", "mod")
	}
	if d.gocache == "" {
		if x := env["XDG_CACHE_HOME"]; x != "" {
			d.gocache = filepath.Join(x, "go-build")
		} else if home != "" {
			d.gocache = filepath.Join(home, ".cache", "go-build")
		}
	}
	return d
}

// Why SourceRoot chose its directory.
const (
	WhyRepository = "the enclosing repository"
	WhyModule     = "the outermost module root"
	WhyAlone      = "the working directory only: it is in no repository or module"
)

// SourceRoot returns what of dir's surroundings a test may open, and why:
// the enclosing repository (the nearest parent holding .git), else the
// outermost parent holding go.mod (a module's tests read ../testdata and the
// module's go.mod), else dir itself (a directory under /tmp: nothing around
// it is shared).
func SourceRoot(dir string) (string, string) {
	dir = filepath.Clean(dir)
	mod := ""
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil && d != "/" {
			return d, WhyRepository
		}
		if st, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && st.Mode().IsRegular() && d != "/" {
			mod = d
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	if mod != "" {
		return mod, WhyModule
	}
	return dir, WhyAlone
}

// findGOROOT returns the GOROOT of the first go command on path.
func findGOROOT(path string) string {
	for _, d := range filepath.SplitList(path) {
		p, err := filepath.EvalSymlinks(filepath.Join(d, "go"))
		if err != nil {
			continue
		}
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			root := filepath.Dir(filepath.Dir(p))
			if isDir(filepath.Join(root, "src", "runtime")) {
				return root
			}
		}
	}
	return ""
}

// dedupe drops directories inside another one of the list on the same file
// system (the outer export serves them), keeping order.
func dedupe(dirs []string) []string {
	var out []string
	for i, d := range dirs {
		d = filepath.Clean(d)
		covered := false
		for j, o := range dirs {
			o = filepath.Clean(o)
			if i == j || !within(d, o) || (d == o && j > i) {
				continue
			}
			if sameDevice(d, o) {
				covered = true
				break
			}
		}
		if !covered && !contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	return slices.Contains(list, s)
}

// within reports whether p is o or below it.
func within(p, o string) bool {
	rel, err := filepath.Rel(o, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func sameDevice(a, b string) bool {
	var sa, sb syscall.Stat_t
	if syscall.Stat(a, &sa) != nil || syscall.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func firstList(v string) string {
	if l := filepath.SplitList(v); len(l) > 0 {
		return l[0]
	}
	return ""
}

func envMap(environ []string) map[string]string {
	m := map[string]string{}
	for _, e := range environ {
		if k, v, ok := strings.Cut(e, "="); ok {
			m[k] = v
		}
	}
	return m
}

// CopyEtc copies src (the host's /etc) to dst without what holds
// credentials: the secretNames, and every file or directory that is not
// readable by all users (shadow, SSH host keys, sudoers, private keys are
// all 0600/0640 on a sane host). Symbolic links are copied as links;
// devices, sockets and pipes are left out. dst must not exist.
func CopyEtc(src, dst string) error {
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == src {
				return err
			}
			return nil // unreadable: not shared
		}
		rel, _ := filepath.Rel(src, p)
		if rel != "." && secretNames[filepath.ToSlash(rel)] {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		out := filepath.Join(dst, rel)
		info, err := e.Info()
		if err != nil {
			return nil
		}
		switch m := info.Mode(); {
		case m&os.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return nil
			}
			return os.Symlink(t, out)
		case m.IsDir():
			if rel != "." && m.Perm()&0o005 != 0o005 {
				return filepath.SkipDir
			}
			return os.Mkdir(out, m.Perm()|0o700)
		case m.IsRegular():
			if m.Perm()&0o004 == 0 || info.Size() > 16<<20 {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			return os.WriteFile(out, data, m.Perm())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy %s without credentials: %w", src, err)
	}
	return nil
}

// ErrNoDaemon means no virtiofsd this process may use was found.
var ErrNoDaemon = errors.New("no usable virtiofsd")
