// Package modules collects a kernel's loadable modules from the package or
// image that ships the kernel, so a guest can load them: what sharing the
// host's file system needs (virtio-pci, fuse, virtiofs, overlay) at boot, and
// anything else a test asks for with modprobe.
//
// A Builder takes the files of a kernel package one by one (the same tar
// stream the kernel image is read from, so the modules are verified with the
// package), keeps those of one release's modules tree (lib/modules/RELEASE
// or usr/lib/modules/RELEASE), decompresses .ko.xz, .ko.zst and .ko.gz
// modules within a bound, reads each module's .modinfo and writes one tar
// archive: RELEASE/… with every module uncompressed under its .ko name, plus
// modules.dep and modules.alias generated from the modinfo (Debian's
// packages ship no modules.dep: dpkg's postinst runs depmod). Extract turns
// that archive into a directory.
//
// The package is architecture-neutral and must not import kernels, vmtest or
// the sources (debian, oci).
package modules

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Limits on what a package may hold. Variables for tests.
var (
	// MaxModule bounds one module, decompressed (the largest Debian
	// modules are a few MiB).
	MaxModule int64 = 64 << 20
	// MaxTotal bounds all modules of a kernel, decompressed.
	MaxTotal int64 = 2 << 30
	// MaxModules bounds how many modules a kernel may have.
	MaxModules = 20000
)

// maxDict bounds the xz dictionary and zstd window a module may ask for.
const maxDict = 64 << 20

// ErrTooLarge is returned for a module or a modules tree beyond the limits.
var ErrTooLarge = errors.New("exceeds the size limit")

// ErrNoModules is returned by Finish when no module was added.
var ErrNoModules = errors.New("no kernel modules")

// Compression names how a package's modules were compressed.
type Compression string

// Compressions found in kernel packages.
const (
	None Compression = "uncompressed"
	XZ   Compression = "xz"
	Zstd Compression = "zstd"
	Gzip Compression = "gzip"
)

// Module is one module of the tree.
type Module struct {
	// Name is the module's name as the kernel knows it (fuse, virtio_pci).
	Name string
	// Path is the module's path below the release directory, always
	// ending in .ko (kernel/fs/fuse/fuse.ko).
	Path string
	// Depends are the names of the modules it needs loaded first.
	Depends []string
	// Aliases are its modalias patterns (fs-virtiofs, pci:v00001AF4d…).
	Aliases []string
}

// Summary describes a built modules tree.
type Summary struct {
	Release     string
	Modules     int
	Bytes       int64
	Compression Compression
}

// Builder collects one release's modules into a tar archive.
type Builder struct {
	tw      *tar.Writer
	release string
	mods    map[string]*Module // by name
	paths   map[string]bool
	total   int64
	comp    Compression
	extra   map[string][]byte // modules.builtin, modules.order
}

// NewBuilder returns a Builder writing its archive to w.
func NewBuilder(w io.Writer) *Builder {
	return &Builder{tw: tar.NewWriter(w), mods: map[string]*Module{}, paths: map[string]bool{}, extra: map[string][]byte{}}
}

// keptFiles are the files of a modules tree kept besides the modules.
var keptFiles = map[string]bool{"modules.builtin": true, "modules.order": true, "modules.builtin.modinfo": true}

// Split reports whether name (a path inside a package or image) lies in a
// modules tree, and returns the tree's release and the path below it.
func Split(name string) (release, rest string, ok bool) {
	p := strings.TrimPrefix(path.Clean("/"+name), "/")
	p, ok = strings.CutPrefix(p, "usr/")
	_ = ok
	p, ok = strings.CutPrefix(p, "lib/modules/")
	if !ok {
		return "", "", false
	}
	release, rest, ok = strings.Cut(p, "/")
	if !ok || release == "" || release == "." || release == ".." || rest == "" {
		return "", "", false
	}
	return release, rest, true
}

// Wants reports whether Add keeps the file at name: a module (.ko, .ko.xz,
// .ko.zst, .ko.gz) or a kept index of a modules tree.
func Wants(name string) bool {
	_, rest, ok := Split(name)
	if !ok {
		return false
	}
	_, _, isMod := moduleName(rest)
	return isMod || keptFiles[rest]
}

// moduleName returns the .ko path of a module file and its compression.
func moduleName(rest string) (string, Compression, bool) {
	for _, c := range []struct {
		ext  string
		comp Compression
	}{{".ko", None}, {".ko.xz", XZ}, {".ko.zst", Zstd}, {".ko.gz", Gzip}} {
		if base, ok := strings.CutSuffix(rest, c.ext); ok && base != "" && !strings.HasSuffix(base, "/") {
			return base + ".ko", c.comp, true
		}
	}
	return "", "", false
}

// Add adds the file name (its path inside the package or image), of size
// bytes, read from r, when Wants(name). A second release in one package is
// an error.
func (b *Builder) Add(name string, size int64, r io.Reader) error {
	release, rest, ok := Split(name)
	if !ok {
		return nil
	}
	if b.release != "" && release != b.release {
		return fmt.Errorf("modules of two releases: %s and %s", b.release, release)
	}
	if keptFiles[rest] {
		if size > MaxModule {
			return fmt.Errorf("%s: %d bytes: %w", name, size, ErrTooLarge)
		}
		data, err := io.ReadAll(io.LimitReader(r, MaxModule))
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		b.release = release
		b.extra[rest] = data
		return nil
	}
	ko, comp, ok := moduleName(rest)
	if !ok {
		return nil
	}
	b.release = release
	if b.comp == "" {
		b.comp = comp
	} else if b.comp != comp {
		b.comp = "mixed"
	}
	if len(b.paths) >= MaxModules {
		return fmt.Errorf("more than %d modules: %w", MaxModules, ErrTooLarge)
	}
	if b.paths[ko] {
		return fmt.Errorf("module %s twice", ko)
	}
	data, err := decompress(r, comp, min(MaxModule, MaxTotal-b.total))
	if err != nil {
		return fmt.Errorf("module %s: %w", rest, err)
	}
	b.total += int64(len(data))
	m, err := parseModinfo(data, ko)
	if err != nil {
		return fmt.Errorf("module %s: %w", rest, err)
	}
	if prev, dup := b.mods[m.Name]; dup {
		return fmt.Errorf("module name %s twice: %s and %s", m.Name, prev.Path, ko)
	}
	b.mods[m.Name] = m
	b.paths[ko] = true
	return b.write(path.Join(release, ko), data)
}

func (b *Builder) write(name string, data []byte) error {
	h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := b.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("write modules archive: %w", err)
	}
	if _, err := b.tw.Write(data); err != nil {
		return fmt.Errorf("write modules archive: %w", err)
	}
	return nil
}

// Finish writes modules.dep, modules.alias and the kept indices and ends
// the archive. It returns ErrNoModules when no module was added.
func (b *Builder) Finish() (Summary, error) {
	if len(b.mods) == 0 {
		return Summary{}, ErrNoModules
	}
	dep, err := Dep(b.mods)
	if err != nil {
		return Summary{}, err
	}
	if err := b.write(path.Join(b.release, "modules.dep"), dep); err != nil {
		return Summary{}, err
	}
	if err := b.write(path.Join(b.release, "modules.alias"), aliases(b.mods)); err != nil {
		return Summary{}, err
	}
	names := make([]string, 0, len(b.extra))
	for n := range b.extra {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := b.write(path.Join(b.release, n), b.extra[n]); err != nil {
			return Summary{}, err
		}
	}
	if err := b.tw.Close(); err != nil {
		return Summary{}, fmt.Errorf("write modules archive: %w", err)
	}
	return Summary{Release: b.release, Modules: len(b.mods), Bytes: b.total, Compression: b.comp}, nil
}

// decompress reads one module, refusing more than max bytes decompressed.
func decompress(r io.Reader, comp Compression, max int64) ([]byte, error) {
	var src io.Reader
	switch comp {
	case None:
		src = r
	case XZ:
		br := bufio.NewReader(r)
		if d, ok := xzDict(br); ok && d > maxDict {
			return nil, fmt.Errorf("xz stream asks for a %d-byte dictionary: %w", d, ErrTooLarge)
		}
		x, err := xz.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		src = x
	case Zstd:
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxDict), zstd.WithDecoderMaxMemory(uint64(max)+1))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		defer z.Close()
		src = z
	case Gzip:
		g, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		src = g
	}
	data, err := io.ReadAll(io.LimitReader(src, max+1))
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("more than %d bytes decompressed: %w", max, ErrTooLarge)
	}
	return data, nil
}

// xzDict returns the dictionary size the first LZMA2 filter of an xz stream
// asks for, when the block header can be read.
func xzDict(br *bufio.Reader) (int64, bool) {
	head, _ := br.Peek(12 + 64)
	if len(head) < 12+6 || !bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}) {
		return 0, false
	}
	blk := head[12:]
	flags := blk[1]
	i := 2
	if flags&0x40 != 0 {
		return 0, false // compressed size present: keep it simple, let the decoder bound it
	}
	if flags&0x80 != 0 {
		return 0, false
	}
	nf := int(flags&3) + 1
	for f := 0; f < nf && i+2 < len(blk); f++ {
		id, props := blk[i], int(blk[i+1])
		i += 2
		if i+props > len(blk) {
			return 0, false
		}
		if id == 0x21 && props == 1 {
			bits := blk[i]
			if bits > 40 {
				return 1 << 62, true
			}
			if bits == 40 {
				return 1<<32 - 1, true
			}
			return int64(2|(bits&1)) << (bits/2 + 11), true
		}
		i += props
	}
	return 0, false
}

// parseModinfo reads a module's name, dependencies and aliases from its
// .modinfo section. ko is its path, whose base name gives the name when the
// section has none (kernels before 5.4 write no name=).
func parseModinfo(data []byte, ko string) (*Module, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not an ELF module: %w", err)
	}
	defer f.Close()
	m := &Module{Path: ko}
	if s := f.Section(".modinfo"); s != nil && s.Type != elf.SHT_NOBITS {
		info, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("read .modinfo: %w", err)
		}
		for kv := range bytes.SplitSeq(info, []byte{0}) {
			k, v, ok := strings.Cut(string(kv), "=")
			if !ok {
				continue
			}
			switch k {
			case "name":
				m.Name = Normalize(v)
			case "depends":
				for d := range strings.SplitSeq(v, ",") {
					if d != "" {
						m.Depends = append(m.Depends, Normalize(d))
					}
				}
			case "alias":
				m.Aliases = append(m.Aliases, v)
			}
		}
	}
	if m.Name == "" {
		m.Name = Normalize(strings.TrimSuffix(path.Base(ko), ".ko"))
	}
	if !validName(m.Name) {
		return nil, fmt.Errorf("module name %q is not a plain name", m.Name)
	}
	for _, d := range m.Depends {
		if !validName(d) {
			return nil, fmt.Errorf("dependency %q is not a plain name", d)
		}
	}
	return m, nil
}

// Normalize returns a module name as the kernel compares it: dashes and
// underscores are the same (a module's depends= may name
// camellia-x86_64, whose own name is camellia_x86_64).
func Normalize(name string) string { return strings.ReplaceAll(name, "-", "_") }

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Dep returns modules.dep for mods: one line per module, "PATH: DEP...",
// each dependency listed (transitively) after the modules that need it, so
// that loading the list from its end satisfies every module, as depmod
// writes it. A dependency missing from mods, or a cycle, is an error.
func Dep(mods map[string]*Module) ([]byte, error) {
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return mods[names[i]].Path < mods[names[j]].Path })
	var b bytes.Buffer
	for _, n := range names {
		order, err := LoadOrder(mods, n)
		if err != nil {
			return nil, err
		}
		b.WriteString(mods[n].Path + ":")
		for i := len(order) - 2; i >= 0; i-- {
			b.WriteString(" " + order[i].Path)
		}
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}

// LoadOrder returns the modules to load for the named ones, each after
// the modules it depends on, each once.
func LoadOrder(mods map[string]*Module, names ...string) ([]*Module, error) {
	var out []*Module
	for i := range names {
		names[i] = Normalize(names[i])
	}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(n, from string) error
	visit = func(n, from string) error {
		m, ok := mods[n]
		if !ok {
			if from == "" {
				return fmt.Errorf("no module %s", n)
			}
			return fmt.Errorf("module %s depends on %s, which is not in the tree", from, n)
		}
		switch state[n] {
		case 1:
			return fmt.Errorf("module dependency cycle through %s", n)
		case 2:
			return nil
		}
		state[n] = 1
		for _, d := range m.Depends {
			if err := visit(d, n); err != nil {
				return err
			}
		}
		state[n] = 2
		out = append(out, m)
		return nil
	}
	for _, n := range names {
		if err := visit(n, ""); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// aliases returns modules.alias for mods.
func aliases(mods map[string]*Module) []byte {
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString("# Aliases extracted from modules themselves.\n")
	for _, n := range names {
		for _, a := range mods[n].Aliases {
			if strings.ContainsAny(a, " \t\n") {
				continue
			}
			fmt.Fprintf(&b, "alias %s %s\n", a, n)
		}
	}
	return b.Bytes()
}

// ReadDep parses modules.dep into modules keyed by name (the base name of
// each path, dashes as underscores), with their direct and indirect
// dependencies as Depends.
func ReadDep(data []byte) (map[string]*Module, error) {
	mods := map[string]*Module{}
	nameOf := func(p string) string { return Normalize(strings.TrimSuffix(path.Base(p), ".ko")) }
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		p, deps, ok := strings.Cut(line, ":")
		if !ok || !strings.HasSuffix(p, ".ko") || !validPath(p) {
			return nil, fmt.Errorf("modules.dep line %d: %q is not PATH.ko: DEPS", i+1, short(line))
		}
		m := &Module{Name: nameOf(p), Path: p}
		for d := range strings.FieldsSeq(deps) {
			if !strings.HasSuffix(d, ".ko") || !validPath(d) {
				return nil, fmt.Errorf("modules.dep line %d: %q is not a module path", i+1, short(d))
			}
			m.Depends = append(m.Depends, nameOf(d))
		}
		mods[m.Name] = m
	}
	return mods, nil
}

// validPath reports whether p is a relative path that stays below its root.
func validPath(p string) bool {
	return p != "" && !path.IsAbs(p) && path.Clean(p) == p && p != ".." && !strings.HasPrefix(p, "../")
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
