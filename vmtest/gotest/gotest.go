package gotest

import (
	"path/filepath"
	"strings"
)

// Is reports whether a payload is a Go test binary: its name ends in ".test"
// or an argument is a -test.* flag.
func Is(payload string, args []string) bool {
	if strings.HasSuffix(filepath.Base(payload), ".test") {
		return true
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-test.") || strings.HasPrefix(a, "--test.") {
			return true
		}
	}
	return false
}

// Args returns args with verbose output switched to the test2json framing
// (-test.v=test2json), replacing any -test.v setting.
func Args(args []string) []string {
	out := make([]string, 0, len(args)+1)
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		if name == "test.v" || name == "-test.v" {
			continue
		}
		out = append(out, a)
	}
	return append([]string{"-test.v=test2json"}, out...)
}
