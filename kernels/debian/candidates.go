package debian

import (
	"regexp"
	"sort"
	"strings"
)

// Flavour is the kernel flavour searched for on amd64: Debian's cloud
// kernels boot under QEMU with an 8250 console and have BTF and kprobes.
const Flavour = "cloud-amd64"

// Architectures of the archive searched for kernels (Debian's names).
const (
	ArchAMD64 = "amd64"
	ArchARM64 = "arm64"
)

// FlavourFor returns the cloud flavour of arch ("cloud-amd64",
// "cloud-arm64"): arm64's boots on QEMU's virt machine with a PL011 console
// and 16550 UARTs on PCI built in, and has BTF and kprobes.
func FlavourFor(arch string) string {
	if arch == "" {
		arch = ArchAMD64
	}
	return "cloud-" + arch
}

// flavourNames are the package name patterns of one flavour.
type flavourNames struct {
	// image matches packages that hold a kernel image of the flavour:
	// linux-image-<abi>-cloud-ARCH[-unsigned] up to 6.x and
	// linux-binary[-unsigned]-<abi>-cloud-ARCH for the 7.x split.
	image *regexp.Regexp
	// base matches linux-base-<abi>-cloud-ARCH, which holds the config of
	// a 7.x kernel whose image is in linux-binary-*.
	base *regexp.Regexp
	// modules matches linux-modules-<abi>-cloud-ARCH, which holds the
	// modules of a 7.x kernel whose image is in linux-binary-*.
	modules *regexp.Regexp
}

func namesFor(flavour string) flavourNames {
	q := regexp.QuoteMeta(flavour)
	return flavourNames{
		image:   regexp.MustCompile(`^linux-(image|binary)-(unsigned-)?(\d+\.\d+[0-9A-Za-z.+~-]*?)-` + q + `(-unsigned)?$`),
		base:    regexp.MustCompile(`^linux-base-(\d+\.\d+[0-9A-Za-z.+~-]*?)-` + q + `$`),
		modules: regexp.MustCompile(`^linux-modules-(\d+\.\d+[0-9A-Za-z.+~-]*?)-` + q + `$`),
	}
}

var flavours = map[string]flavourNames{
	ArchAMD64: namesFor(FlavourFor(ArchAMD64)),
	ArchARM64: namesFor(FlavourFor(ArchARM64)),
}

// minImageSize tells an image package from a meta package of the same name
// pattern (the 7.x linux-image-* packages hold no image).
const minImageSize = 1 << 20

// KeepIndexEntry reports whether a Packages stanza named name may matter for
// kernel resolution or the guest (busybox-static, the guest's userland on an
// architecture the host cannot provide); it filters large indices while
// parsing.
func KeepIndexEntry(name string) bool {
	return strings.HasPrefix(name, "linux-image-") || strings.HasPrefix(name, "linux-binary-") ||
		strings.HasPrefix(name, "linux-base-") || strings.HasPrefix(name, "linux-modules-") || name == BusyboxPackage
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
	return Candidate{Suite: suite, Upstream: up, Line: Line(up), ABI: abi, Package: p, Flavour: "-"}
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
	// Flavour is the flavour searched for ("cloud-arm64"); empty means
	// cloud-amd64, "-" a package named as it is (deb:SUITE/PACKAGE), whose
	// ABI then includes its flavour.
	Flavour string `json:"flavour,omitempty"`
}

// Release returns the uname -r of the kernel, e.g. "6.1.0-50-cloud-amd64".
func (c Candidate) Release() string {
	switch c.Flavour {
	case "":
		return c.ABI + "-" + Flavour
	case "-":
		return c.ABI
	}
	return c.ABI + "-" + c.Flavour
}

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

// FindCandidates picks the kernel image packages of the amd64 flavour out of
// a suite's (filtered) Packages stanzas: FindCandidatesFor amd64.
func FindCandidates(suite string, pkgs []Package) []Candidate {
	return FindCandidatesFor(suite, ArchAMD64, pkgs)
}

// FindCandidatesFor picks the kernel image packages of arch's cloud flavour
// out of a suite's (filtered) Packages stanzas of that architecture, one per
// ABI and version, preferring signed over unsigned builds, newest first.
func FindCandidatesFor(suite, arch string, pkgs []Package) []Candidate {
	names, ok := flavours[arch]
	if !ok {
		return nil
	}
	flavour := ""
	if arch != ArchAMD64 {
		flavour = FlavourFor(arch)
	}
	bases, mods := map[string]Package{}, map[string]Package{}
	for _, p := range pkgs {
		for _, x := range []struct {
			re *regexp.Regexp
			m  map[string]Package
		}{{names.base, bases}, {names.modules, mods}} {
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
		m := names.image.FindStringSubmatch(p.Name)
		if m == nil || p.Size < minImageSize {
			continue
		}
		isUnsigned := m[2] != "" || m[4] != ""
		k := key{m[3], p.Version}
		if _, ok := best[k]; ok && (isUnsigned || !unsigned[k]) {
			continue
		}
		up := UpstreamVersion(p.Version)
		c := Candidate{Suite: suite, Upstream: up, Line: Line(up), ABI: m[3], Package: p, Flavour: flavour}
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
