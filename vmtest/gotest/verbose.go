package gotest

import (
	"bytes"
	"strings"
)

// Verbosity is how a test binary's arguments ask for its output.
type Verbosity int

const (
	// Quiet: no -test.v; only failures and the final verdict are printed.
	Quiet Verbosity = iota
	// Verbose: -test.v, as `go test -v` runs a binary.
	Verbose
	// Framed: -test.v=test2json, as `go test -json` runs a binary: the
	// framing lines start with ^V for cmd/test2json.
	Framed
)

// VerbosityOf returns what args ask for; the last -test.v wins, as in the
// flag package.
func VerbosityOf(args []string) Verbosity {
	v := Quiet
	for _, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if name != "test.v" {
			continue
		}
		switch {
		case !hasVal || val == "true" || val == "1" || val == "t" || val == "T" || val == "TRUE" || val == "True":
			v = Verbose
		case val == "test2json":
			v = Framed
		default:
			v = Quiet
		}
	}
	return v
}

// Frame adds the ^V marker of -test.v=test2json output to the framing lines
// of plain -test.v output (=== RUN, --- PASS:, the final PASS or FAIL ...),
// so that Parse reads it. A test's own output that looks like a framing line
// is taken for one, as cmd/test2json takes it from plain output.
func Frame(out []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(out) + len(out)/16)
	for len(out) > 0 {
		line := out
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			line = out[:i+1]
		}
		out = out[len(line):]
		if isFraming(line) {
			b.WriteByte(marker)
		}
		b.Write(line)
	}
	return b.Bytes()
}

// isFraming reports whether a plain -test.v line is one the testing package
// frames for test2json.
func isFraming(line []byte) bool {
	s := strings.TrimRight(string(line), "\r\n")
	if s == "PASS" || s == "FAIL" {
		return true
	}
	for strings.HasPrefix(s, "    ") {
		s = s[4:]
	}
	for _, p := range append(append([]string{}, updates...), reports...) {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
