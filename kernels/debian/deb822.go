package debian

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// deb822 reads the control-file format that Packages indices, Release files
// and .sources files share: stanzas of "Field: value" lines, each followed
// by any indented continuation lines, separated by blank lines. It is the
// one parser of that format in the package.
//
// A line longer than maxDeb822Line (a Description no caller needs) is
// skipped whole. With comments set, lines starting with "#" are skipped.
type deb822 struct {
	br       *bufio.Reader
	comments bool
	// line is the number of the line last read, from 1.
	line int
	// last is the name of the last field, "" before the first of a stanza.
	last string
	// eof: the input ended; ended: the deb822End of its end was returned.
	eof, ended bool
}

// maxDeb822Line is the longest line deb822 reads.
const maxDeb822Line = 1 << 20

// deb822Kind is the kind of one line of deb822.
type deb822Kind int

const (
	// deb822Field is a "Field: value" line.
	deb822Field deb822Kind = iota + 1
	// deb822Continuation is an indented line continuing the last field.
	deb822Continuation
	// deb822End is a blank line, or the end of the input: the end of a
	// stanza (blank lines may follow each other: a stanza may be empty).
	deb822End
)

func newDeb822(r io.Reader, comments bool) *deb822 {
	return &deb822{br: bufio.NewReaderSize(r, maxDeb822Line), comments: comments}
}

// next returns the next line. For a field, name is the field's name as
// written and value its value with blanks trimmed; for a continuation, name
// is the field it continues and value the line as it is (without its line
// end). After the deb822End of the input's end it returns io.EOF. A line
// that is none of these is an error naming its number.
func (d *deb822) next() (kind deb822Kind, name, value string, err error) {
	for {
		if d.eof {
			if d.ended {
				return 0, "", "", io.EOF
			}
			d.ended = true
			return deb822End, "", "", nil
		}
		raw, err := d.readLine()
		switch {
		case err == io.EOF:
			d.eof = true
		case err != nil:
			return 0, "", "", err
		}
		if len(raw) == 0 {
			continue // an overlong line (skipped), or the end of the input
		}
		s := strings.TrimRight(string(raw), "\r\n")
		switch {
		case d.comments && strings.HasPrefix(s, "#"):
			continue
		case strings.TrimSpace(s) == "":
			d.last = ""
			return deb822End, "", "", nil
		case s[0] == ' ' || s[0] == '\t':
			if d.last == "" {
				return 0, "", "", fmt.Errorf("line %d: continuation line outside a field", d.line)
			}
			return deb822Continuation, d.last, s, nil
		}
		k, v, ok := strings.Cut(s, ":")
		if !ok {
			return 0, "", "", fmt.Errorf("line %d: %q is not a field", d.line, s)
		}
		d.last = strings.TrimSpace(k)
		return deb822Field, d.last, strings.TrimSpace(v), nil
	}
}

// readLine reads one line, with its line end; nil for a line longer than
// maxDeb822Line, which is skipped.
func (d *deb822) readLine() ([]byte, error) {
	line, err := d.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		for err == bufio.ErrBufferFull {
			_, err = d.br.ReadSlice('\n')
		}
		line = nil
	}
	if len(line) > 0 || err == nil {
		d.line++
	}
	return line, err
}
