package report

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
)

// versionRE finds the first dotted version ("5.4", "6.12.48") in a kernel name.
var versionRE = regexp.MustCompile(`(?:^|[^0-9.])([0-9]+(?:\.[0-9]+)+)`)

// nameVersion returns the numeric components of the first version in a kernel
// name ("oci:ghcr.io/cilium/ci-kernels:5.4" -> [5 4]), or nil when it has none
// ("latest", "/boot/bzImage").
func nameVersion(name string) []int {
	m := versionRE.FindStringSubmatch(name)
	if m == nil {
		return nil
	}
	var v []int
	start := 0
	s := m[1]
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			n, err := strconv.Atoi(s[start:i])
			if err != nil {
				return nil
			}
			v = append(v, n)
			start = i + 1
		}
	}
	return v
}

// compareKernelNames orders kernel names for reports: names carrying a version
// by that version numerically (5.4 < 5.10 < 6.1 < 6.1.5 < 6.12), then names
// without one ("latest", a local path) in byte order. Equal versions fall back
// to byte order, so the order is total and stable.
func compareKernelNames(a, b string) int {
	va, vb := nameVersion(a), nameVersion(b)
	switch {
	case va != nil && vb == nil:
		return -1
	case va == nil && vb != nil:
		return 1
	}
	if c := slices.Compare(va, vb); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// SortKernels orders results by kernel name, version-aware (see Summary order
// in Merge).
func SortKernels(ks []KernelResult) {
	slices.SortStableFunc(ks, func(a, b KernelResult) int {
		return compareKernelNames(a.Kernel.Name, b.Kernel.Name)
	})
}
