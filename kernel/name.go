package kernel

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Kind is the kind of a kernel name.
type Kind int

// Kinds of kernel names.
const (
	// KindLine is a version line, "6.1": the newest 6.1.x available.
	KindLine Kind = iota + 1
	// KindExact is an exact version, "6.1.176" (or a Debian version, "6.1.176-1").
	KindExact
	// KindLatest is "latest": the newest kernel any source serves.
	KindLatest
	// KindDeb is "deb:SUITE/PACKAGE": the newest version of a Debian package.
	KindDeb
	// KindOCI is "oci:REF": an OCI image in the ci-kernels layout.
	KindOCI
	// KindPath is a path to a bzImage or to a directory holding boot/vmlinuz.
	KindPath
)

func (k Kind) String() string {
	switch k {
	case KindLine:
		return "line"
	case KindExact:
		return "exact"
	case KindLatest:
		return "latest"
	case KindDeb:
		return "deb"
	case KindOCI:
		return "oci"
	case KindPath:
		return "path"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Name is a parsed kernel name.
type Name struct {
	// Raw is the name as written, with its architecture suffix.
	Raw  string
	Kind Kind
	// Arch is the suffix's architecture, else the host's.
	Arch Arch
	// Version is the line or exact version for KindLine and KindExact.
	Version string
	// Suite and Package are set for KindDeb.
	Suite, Package string
	// Ref is the image reference for KindOCI.
	Ref string
	// Path is the file or directory for KindPath.
	Path string
}

// Base returns the name without its architecture suffix ("6.1" for
// "6.1/arm64").
func (n Name) Base() string {
	if base, a, ok := cutArch(n.Raw); ok && a == n.Arch {
		return base
	}
	return n.Raw
}

var (
	lineRE  = regexp.MustCompile(`^[1-9][0-9]*\.[0-9]+$`)
	exactRE = regexp.MustCompile(`^[1-9][0-9]*\.[0-9]+\.[0-9]+([-+~][0-9A-Za-z.+~-]*)?$`)
	debRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*/[a-z0-9][a-z0-9.+-]+$`)
)

// ErrBadName is returned (wrapped) for a token that is not a kernel name.
var ErrBadName = errors.New("not a kernel name")

// nameHelp lists the grammar, for error messages.
const nameHelp = "want a version line (6.1), an exact version (6.1.176), latest, deb:SUITE/PACKAGE, oci:REF, or a path to a bzImage or ci-kernels directory, optionally followed by /amd64 or /arm64"

// Parse makes the Kernel a name on the command line asks for: the one place
// a kernel's identity is created.
func Parse(s string) (Kernel, error) {
	n, err := ParseName(s)
	if err != nil {
		return Kernel{}, err
	}
	return Kernel{Name: s, Arch: n.Arch, Spec: n}, nil
}

// ParseName parses one kernel name.
//
// Paths are written with a slash ("./bzImage", "/boot/vmlinuz-6.1",
// "kernels/6.1") or name an existing file; a bare version is always a version.
// Any name may end in "/amd64" or "/arm64" to choose the architecture
// ("6.1/arm64"); without it the kernel is the host's architecture. A path
// that exists as written keeps such an ending as part of the path.
func ParseName(s string) (Name, error) {
	if base, a, ok := cutArch(s); ok {
		if n, err := parseBase(base); err == nil && (n.Kind != KindPath || !exists(s)) {
			n.Raw, n.Arch = s, a
			return n, nil
		}
	}
	if i := strings.LastIndexByte(s, '/'); i > 0 && !exists(s) {
		// "6.1/arm" is a typo of an architecture, not a path.
		if n, err := parseBase(s[:i]); err == nil && n.Kind != KindPath && n.Kind != KindDeb && n.Kind != KindOCI {
			_, err := ParseArch(s[i+1:])
			return Name{Raw: s}, fmt.Errorf("kernel %q: %w", s, err)
		}
	}
	n, err := parseBase(s)
	n.Arch = HostArch()
	return n, err
}

// cutArch splits an architecture suffix off s.
func cutArch(s string) (base string, a Arch, ok bool) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 {
		return s, "", false
	}
	a, err := ParseArch(s[i+1:])
	if err != nil {
		return s, "", false
	}
	return s[:i], a, true
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// parseBase parses a name without an architecture suffix.
func parseBase(s string) (Name, error) {
	n := Name{Raw: s}
	switch {
	case s == "":
		return n, fmt.Errorf("empty kernel name: %w", ErrBadName)
	case s == "latest":
		n.Kind = KindLatest
	case lineRE.MatchString(s):
		n.Kind, n.Version = KindLine, s
	case exactRE.MatchString(s):
		n.Kind, n.Version = KindExact, s
	case strings.HasPrefix(s, "deb:"):
		v := strings.TrimPrefix(s, "deb:")
		if !debRE.MatchString(v) {
			return n, fmt.Errorf("kernel %q: want deb:SUITE/PACKAGE: %w", s, ErrBadName)
		}
		n.Kind = KindDeb
		n.Suite, n.Package, _ = strings.Cut(v, "/")
	case strings.HasPrefix(s, "oci:"):
		n.Kind, n.Ref = KindOCI, strings.TrimPrefix(s, "oci:")
		if n.Ref == "" || strings.ContainsAny(n.Ref, " \t") {
			return n, fmt.Errorf("kernel %q: want oci:REGISTRY/REPO:TAG: %w", s, ErrBadName)
		}
	case strings.HasPrefix(s, "file:"):
		n.Kind, n.Path = KindPath, strings.TrimPrefix(s, "file:")
	case strings.ContainsRune(s, '/') || strings.HasPrefix(s, "."):
		n.Kind, n.Path = KindPath, s
	default:
		if exists(s) {
			n.Kind, n.Path = KindPath, s
			break
		}
		return n, fmt.Errorf("kernel %q: %s: %w", s, nameHelp, ErrBadName)
	}
	return n, nil
}
