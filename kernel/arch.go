package kernel

import (
	"fmt"
	"runtime"
)

// Arch is a CPU architecture in Debian's and Go's spelling.
type Arch string

// Architectures a kernel can be booted as.
const (
	AMD64 Arch = "amd64"
	ARM64 Arch = "arm64"
)

// Arches lists the architectures a kernel name may be suffixed with.
var Arches = []Arch{AMD64, ARM64}

// HostArch is the architecture of this machine: a kernel name without a
// suffix means a kernel of this architecture. It is amd64 on anything
// but an arm64 host.
func HostArch() Arch {
	if runtime.GOARCH == string(ARM64) {
		return ARM64
	}
	return AMD64
}

// ParseArch returns the architecture s names.
func ParseArch(s string) (Arch, error) {
	for _, a := range Arches {
		if string(a) == s {
			return a, nil
		}
	}
	return "", fmt.Errorf("architecture %q: want amd64 or arm64: %w", s, ErrBadName)
}
