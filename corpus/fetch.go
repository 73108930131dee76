package corpus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/corematrix/corematrix/kernels/debian"
)

// Archive is what the corpus needs of a Debian archive
// (*debian.Archive): verified Packages indices and verified downloads.
type Archive interface {
	Packages(ctx context.Context, suite, arch string, keep func(name string) bool) ([]debian.Package, error)
	Download(ctx context.Context, p debian.Package) (*os.File, error)
}

// pinFile is the file in a pin's directory that records the pin its objects
// came from; it is written last.
const pinFile = "PIN"

// Fetched is the objects of one pin.
type Fetched struct {
	Pin Pin
	// Dir holds the objects.
	Dir string
	// Objects are the objects' file names in Dir.
	Objects []string
	// Cached says Dir already held the pin's objects.
	Cached bool
}

// Fetch writes the BPF objects of every pin into dir/PIN.Dir()/, reading
// each package from a through its verified index, whose SHA-256 for the
// pinned name and version must be the pin's. A pin whose directory
// already records it is not fetched again.
func Fetch(ctx context.Context, a Archive, pins []Pin, dir string) ([]Fetched, error) {
	indices := map[string][]debian.Package{}
	var out []Fetched
	for _, p := range pins {
		f := Fetched{Pin: p, Dir: filepath.Join(dir, p.Dir())}
		if names, ok := cachedPin(f.Dir, p); ok {
			f.Objects, f.Cached = names, true
			out = append(out, f)
			continue
		}
		key := p.Suite + "/" + p.Arch
		if _, ok := indices[key]; !ok {
			pkgs, err := a.Packages(ctx, p.Suite, p.Arch, func(n string) bool { return wanted(pins, n) })
			if err != nil {
				return out, fmt.Errorf("index of %s: %w", key, err)
			}
			indices[key] = pkgs
		}
		pkg, err := find(indices[key], p)
		if err != nil {
			return out, err
		}
		if f.Objects, err = fetchOne(ctx, a, pkg, p, f.Dir); err != nil {
			return out, fmt.Errorf("%s %s (%s): %w", p.Name, p.Version, p.Arch, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// wanted reports whether a package of that name is pinned.
func wanted(pins []Pin, name string) bool {
	for _, p := range pins {
		if p.Name == name {
			return true
		}
	}
	return false
}

// find returns p's package in a verified index and checks its SHA-256.
func find(pkgs []debian.Package, p Pin) (debian.Package, error) {
	for _, pkg := range pkgs {
		if pkg.Name != p.Name || pkg.Version != p.Version {
			continue
		}
		if pkg.SHA256 != p.SHA256 {
			return pkg, fmt.Errorf("%s %s in %s/%s: the index says sha256 %s, the pin %s", p.Name, p.Version, p.Suite, p.Arch, pkg.SHA256, p.SHA256)
		}
		return pkg, nil
	}
	return debian.Package{}, fmt.Errorf("%s %s is not in %s/%s (any more): update pins.txt", p.Name, p.Version, p.Suite, p.Arch)
}

// cachedPin returns the objects of a directory that records pin p.
func cachedPin(dir string, p Pin) ([]string, bool) {
	rec, err := os.ReadFile(filepath.Join(dir, pinFile))
	if err != nil || strings.TrimSpace(string(rec)) != p.String() {
		return nil, false
	}
	m, err := filepath.Glob(filepath.Join(dir, "*.o"))
	if err != nil {
		return nil, false
	}
	names := make([]string, len(m))
	for i, f := range m {
		names[i] = filepath.Base(f)
	}
	return names, true
}

// fetchOne downloads pkg and writes its objects into dir, replacing what
// was there; the pin record is written last.
func fetchOne(ctx context.Context, a Archive, pkg debian.Package, p Pin, dir string) ([]string, error) {
	deb, err := a.Download(ctx, pkg)
	if err != nil {
		return nil, err
	}
	defer os.Remove(deb.Name())
	defer deb.Close()
	objs, err := PackageObjects(deb)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		if err := os.WriteFile(filepath.Join(dir, o.Name), o.Data, 0o644); err != nil {
			return nil, err
		}
		names = append(names, o.Name)
	}
	return names, os.WriteFile(filepath.Join(dir, pinFile), []byte(p.String()+"\n"), 0o644)
}

// PackageObjects returns the BPF objects of the .deb read from r (its hash
// verified first): every .o of machine EM_BPF and every object embedded in
// an ELF file, at most MaxObjects, with unique names; an object identical to
// one taken before (libxdp's dispatcher, linked into every xdp-tools
// executable) is taken once. Files over MaxFile bytes are skipped.
func PackageObjects(r io.Reader) ([]Object, error) {
	var out []Object
	seen := map[string]int{}
	same := map[[sha256.Size]byte]bool{}
	err := debian.WalkData(r, func(name string, size int64, content io.Reader) error {
		if size > MaxFile || size < 64 {
			return nil
		}
		data, err := io.ReadAll(io.LimitReader(content, size))
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if !bytes.HasPrefix(data, elfMagic) {
			return nil
		}
		objs, err := Objects(name, data)
		if err != nil {
			return err
		}
		for _, o := range objs {
			sum := sha256.Sum256(o.Data)
			if same[sum] {
				continue
			}
			same[sum] = true
			if seen[o.Name]++; seen[o.Name] > 1 {
				o.Name = fmt.Sprintf("%s-%d.o", strings.TrimSuffix(o.Name, ".o"), seen[o.Name])
			}
			out = append(out, o)
		}
		if len(out) > MaxObjects {
			return fmt.Errorf("more than %d objects", MaxObjects)
		}
		return nil
	})
	return out, err
}

// Newest returns a pin of the newest version of each named package in
// suite's index for arch (for writing pins.txt).
func Newest(ctx context.Context, a Archive, suite, arch string, names []string) ([]Pin, error) {
	pkgs, err := a.Packages(ctx, suite, arch, func(n string) bool {
		return slices.Contains(names, n)
	})
	if err != nil {
		return nil, err
	}
	best := map[string]debian.Package{}
	for _, p := range pkgs {
		if b, ok := best[p.Name]; !ok || debian.CompareVersions(p.Version, b.Version) > 0 {
			best[p.Name] = p
		}
	}
	var out []Pin
	for _, p := range best {
		out = append(out, Pin{Suite: suite, Arch: arch, Name: p.Name, Version: p.Version, SHA256: p.SHA256})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
