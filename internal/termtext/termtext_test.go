package termtext

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStrip(t *testing.T) {
	for _, tc := range []struct{ in, line, text string }{
		{"6.1.0-50-cloud-amd64", "6.1.0-50-cloud-amd64", "6.1.0-50-cloud-amd64"},
		{"ok\x1b[2J\x1b[Hall kernels passed", "ok[2J[Hall kernels passed", "ok[2J[Hall kernels passed"},
		{"a\tb\nc\rd", "a b cd", "a\tb\ncd"},
		{"bell\x07 del\x7f c1\u009b", "bell del c1", "bell del c1"},
		{"bidi \u202eevil", "bidi evil", "bidi evil"},
		{"bad \xff utf8 é", "bad \ufffd utf8 é", "bad \ufffd utf8 é"},
	} {
		assert.Equal(t, tc.line, Line(tc.in), "Line(%q)", tc.in)
		assert.Equal(t, tc.text, Strip(tc.in, true), "Strip(%q, true)", tc.in)
	}
}

func FuzzStrip(f *testing.F) {
	f.Add("\x1b]0;title\x07text\n")
	f.Fuzz(func(t *testing.T, s string) {
		out := Strip(s, false)
		for _, r := range out {
			require.False(t, r < 0x20, "Strip(%q) = %q keeps control %U", s, out, r)
			require.False(t, (r >= 0x7f && r < 0xa0), "Strip(%q) = %q keeps control %U", s, out, r)
		}
	})
}
