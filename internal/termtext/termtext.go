package termtext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Strip returns s without control characters (C0 and C1, DEL, escape
// sequences' ESC) and Unicode bidirectional overrides; invalid UTF-8 bytes
// become U+FFFD. Tabs and newlines are kept only when keepLines is set.
func Strip(s string, keepLines bool) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
				b.WriteRune(utf8.RuneError)
				continue
			}
			b.WriteRune(r)
		case r == '\n' || r == '\t':
			if keepLines {
				b.WriteRune(r)
			} else {
				b.WriteByte(' ')
			}
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Line is Strip for a single line: tabs and newlines become spaces.
func Line(s string) string { return Strip(s, false) }
