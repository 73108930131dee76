package ground

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrBadRelease reports a kernel release string that does not start with
// major.minor.
var ErrBadRelease = errors.New("malformed kernel release")

// Version is a kernel version: major.minor.patch.
type Version struct {
	Major, Minor, Patch int
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v >= major.minor.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// ParseRelease parses a `uname -r` string such as "6.1.0-50-cloud-amd64",
// "5.10.0-35-cloud-amd64", "6.16.3+deb14-cloud-amd64" or "5.4.290". A missing
// patch level is 0.
func ParseRelease(release string) (Version, error) {
	end := strings.IndexFunc(release, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end < 0 {
		end = len(release)
	}
	parts := strings.Split(strings.TrimRight(release[:end], "."), ".")
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("%w: %q", ErrBadRelease, release)
	}
	var n [3]int
	for i := 0; i < len(parts) && i < 3; i++ {
		v, err := strconv.Atoi(parts[i])
		if err != nil {
			return Version{}, fmt.Errorf("%w: %q", ErrBadRelease, release)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// Release returns the running kernel's `uname -r`.
func Release() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

// RunningVersion parses the running kernel's release.
func RunningVersion() (Version, string, error) {
	r, err := Release()
	if err != nil {
		return Version{}, "", err
	}
	v, err := ParseRelease(r)
	return v, r, err
}
