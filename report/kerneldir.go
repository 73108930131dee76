package report

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
)

// maxDirName bounds the readable part of a kernel directory name, so that a
// long image path still gives a name every file system accepts.
const maxDirName = 64

// KernelDir returns the report directory of the kernel named kernelName under
// root.
//
// A name made only of letters, digits, '.', '_' and '-' (and not starting with
// '.' or '-') is used as it is: "6.1" lives in root/6.1. Any other name (an OCI
// reference, a path, a Debian package) is reduced to those characters and
// suffixed with '+' and 12 hex digits of the SHA-256 of the full name, e.g.
// "oci:ghcr.io/cilium/ci-kernels:5.4" -> "oci-ghcr.io-cilium-ci-kernels-5.4+3f0c...".
// Plain names never contain '+', so the two forms cannot collide, and the hash
// keeps names that reduce to the same text apart. The result is stable across
// runs and machines.
func KernelDir(root, kernelName string) string {
	return filepath.Join(root, kernelDirName(kernelName))
}

func kernelDirName(name string) string {
	if plainName(name) {
		return name
	}
	var b strings.Builder
	dash := false
	for _, r := range name {
		if safeRune(r) {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	readable := strings.Trim(b.String(), "-.")
	if len(readable) > maxDirName {
		// Keep the tail: for paths and package names it is the telling part.
		readable = strings.TrimLeft(readable[len(readable)-maxDirName:], "-.")
	}
	if readable == "" {
		readable = "kernel"
	}
	sum := sha256.Sum256([]byte(name))
	return readable + "+" + hex.EncodeToString(sum[:6])
}

// plainName reports whether name is safe as a directory name unchanged.
func plainName(name string) bool {
	if name == "" || len(name) > maxDirName || name[0] == '.' || name[0] == '-' {
		return false
	}
	for _, r := range name {
		if !safeRune(r) {
			return false
		}
	}
	return true
}

func safeRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '.' || r == '_' || r == '-'
}
