// Package pid1 makes the vmtest binary the guest init before the host side
// of the binary initializes.
//
// Go initializes a program's packages one at a time, always the first, by
// import path, of those whose imports are all initialized (The Go
// Programming Language Specification, "Package initialization"). This
// package imports only the guest init, so its init function runs as soon as
// the guest init's dependencies are ready, and never returns as PID 1: the
// host's packages (registries, archives, signature checks, reports) are
// never initialized in the guest. Under TCG every instruction run for the
// first time is translated, and their initialization cost about a tenth of
// a second per boot.
//
// Only cmd/vmtest imports it. It must import nothing but the guest init and
// the standard library.
package pid1

import (
	"os"

	"github.com/corematrix/corematrix/vmtest/guest"
)

// probeEnv, set to 1, makes init exit 0 before it looks at its PID: the
// test of this package counts the packages initialized before it.
const probeEnv = "CM_PID1_PROBE"

// isGuest reports whether this process is a vmtest guest's init: PID 1 with
// the guest configuration the host packed into the initramfs. A container
// that starts vmtest as its first process has PID 1 too, and no such file.
func isGuest() bool {
	if os.Getpid() != 1 {
		return false
	}
	_, err := os.Stat(guest.ConfigPath)
	return err == nil
}

func init() {
	if os.Getenv(probeEnv) == "1" {
		os.Exit(0)
	}
	if isGuest() {
		guest.Main() // never returns
	}
}
