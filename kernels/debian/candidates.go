package debian

import (
	"regexp"
	"sort"
	"strings"
)

// Flavour is the kernel flavour searched for: Debian's cloud kernels boot
// under QEMU with an 8250 console and have BTF and kprobes.
const Flavour = "cloud-amd64"

// imageName matches packages that hold a kernel image of the flavour:
// linux-image-<abi>-cloud-amd64[-unsigned] up to 6.x and
// linux-binary[-unsigned]-<abi>-cloud-amd64 for the 7.x split.
var imageName = regexp.MustCompile(`^linux-(image|binary)-(unsigned-)?(\d+\.\d+[0-9A-Za-z.+~-]*?)-` + Flavour + `(-unsigned)?$`)

// baseName matches linux-base-<abi>-cloud-amd64, which holds the config of a
// 7.x kernel whose image is in linux-binary-*.
var baseName = regexp.MustCompile(`^linux-base-(\d+\.\d+[0-9A-Za-z.+~-]*?)-` + Flavour + `$`)

// modulesName matches linux-modules-<abi>-cloud-amd64, which holds the
// modules of a 7.x kernel whose image is in linux-binary-*.
var modulesName = regexp.MustCompile(`^linux-modules-(\d+\.\d+[0-9A-Za-z.+~-]*?)-` + Flavour + `$`)

// minImageSize tells an image package from a meta package of the same name
// pattern (the 7.x linux-image-* packages hold no image).
const minImageSize = 1 << 20

// KeepIndexEntry reports whether a Packages stanza named name may matter for
// kernel resolution; it filters large indices while parsing.
func KeepIndexEntry(name string) bool {
	return strings.HasPrefix(name, "linux-image-") || strings.HasPrefix(name, "linux-binary-") ||
		strings.HasPrefix(name, "linux-base-") || strings.HasPrefix(name, "linux-modules-")
}

// ImagePackages returns the packages that may hold a kernel image of any
// flavour (for deb:SUITE/PACKAGE names): linux-image-* and linux-binary-*
// packages that are not debug symbols or meta packages.
func ImagePackages(pkgs []Package) []Package {
	var out []Package
	for _, p := range pkgs {
		if (strings.HasPrefix(p.Name, "linux-image-") || strings.HasPrefix(p.Name, "linux-binary-")) &&
			!strings.HasSuffix(p.Name, "-dbg") && p.Size >= minImageSize {
			out = append(out, p)
		}
	}
	return out
}

// CandidateFor makes a candidate of an arbitrary image package of suite.
func CandidateFor(suite string, p Package) Candidate {
	up := UpstreamVersion(p.Version)
	abi := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(p.Name, "linux-image-"), "linux-binary-"), "unsigned-")
	return Candidate{Suite: suite, Upstream: up, Line: Line(up), ABI: abi, Package: p}
}

// Candidate is a kernel image package in a suite.
type Candidate struct {
	Suite string `json:"suite"`
	// Upstream is the kernel version, e.g. "6.1.176".
	Upstream string `json:"upstream"`
	// Line is the version line, e.g. "6.1".
	Line string `json:"line"`
	// ABI is the package ABI name, e.g. "6.1.0-50" or "7.2.13+deb14".
	ABI     string  `json:"abi"`
	Package Package `json:"package"`
	// Base is the linux-base-* package holding the config when the image
	// package has none (7.x), if present.
	Base *Package `json:"base,omitempty"`
	// Modules is the linux-modules-* package holding the modules when the
	// image package has none (7.x), if present.
	Modules *Package `json:"modules,omitempty"`
}

// Release returns the uname -r of the kernel, e.g. "6.1.0-50-cloud-amd64".
func (c Candidate) Release() string { return c.ABI + "-" + Flavour }

// UpstreamVersion returns the kernel version of a Debian package version:
// "6.1.176-1" -> "6.1.176", "6.16.12-1~bpo13+1" -> "6.16.12".
func UpstreamVersion(v string) string {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.IndexAny(v, "-~+"); i >= 0 {
		v = v[:i]
	}
	return v
}

// Line returns the major.minor of a kernel version: "6.1.176" -> "6.1".
func Line(upstream string) string {
	parts := strings.SplitN(upstream, ".", 3)
	if len(parts) < 2 {
		return upstream
	}
	return parts[0] + "." + parts[1]
}

// FindCandidates picks the kernel image packages of the flavour out of a
// suite's (filtered) Packages stanzas, one per ABI and version, preferring
// signed over unsigned builds, newest first.
func FindCandidates(suite string, pkgs []Package) []Candidate {
	bases, mods := map[string]Package{}, map[string]Package{}
	for _, p := range pkgs {
		for _, x := range []struct {
			re *regexp.Regexp
			m  map[string]Package
		}{{baseName, bases}, {modulesName, mods}} {
			if m := x.re.FindStringSubmatch(p.Name); m != nil {
				if old, ok := x.m[m[1]]; !ok || CompareVersions(p.Version, old.Version) > 0 {
					x.m[m[1]] = p
				}
			}
		}
	}
	type key struct{ abi, version string }
	best := map[key]Candidate{}
	unsigned := map[key]bool{}
	for _, p := range pkgs {
		m := imageName.FindStringSubmatch(p.Name)
		if m == nil || p.Size < minImageSize {
			continue
		}
		isUnsigned := m[2] != "" || m[4] != ""
		k := key{m[3], p.Version}
		if _, ok := best[k]; ok && (isUnsigned || !unsigned[k]) {
			continue
		}
		up := UpstreamVersion(p.Version)
		c := Candidate{Suite: suite, Upstream: up, Line: Line(up), ABI: m[3], Package: p}
		if b, ok := bases[m[3]]; ok {
			c.Base = &b
		}
		if mp, ok := mods[m[3]]; ok && mp.Version == p.Version {
			c.Modules = &mp
		}
		best[k] = c
		unsigned[k] = isUnsigned
	}
	out := make([]Candidate, 0, len(best))
	for _, c := range best {
		out = append(out, c)
	}
	SortCandidates(out)
	return out
}

// SortCandidates orders candidates newest first (by Debian version, then
// suite name for a stable order).
func SortCandidates(cs []Candidate) {
	sort.SliceStable(cs, func(i, j int) bool {
		if c := CompareVersions(cs[i].Package.Version, cs[j].Package.Version); c != 0 {
			return c > 0
		}
		return cs[i].Suite < cs[j].Suite
	})
}
