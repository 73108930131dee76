package debian

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Package is one stanza of a Packages index.
type Package struct {
	Name     string `json:"package"`
	Version  string `json:"version"`
	Source   string `json:"source,omitempty"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	Depends  string `json:"depends,omitempty"`
}

// ParsePackages reads a Packages index and returns the stanzas for which keep
// returns true (every stanza when keep is nil). keep sees the package name
// before the rest of the stanza is decoded, so filtering a large index is
// cheap.
func ParsePackages(r io.Reader, keep func(name string) bool) ([]Package, error) {
	var out []Package
	br := bufio.NewReaderSize(r, 1<<20)
	var cur Package
	skip := false
	have := false
	n := 0
	flush := func() error {
		if have && !skip {
			if cur.Name == "" || cur.Filename == "" || cur.Version == "" {
				return fmt.Errorf("stanza ending at line %d lacks Package, Version or Filename", n)
			}
			out = append(out, cur)
		}
		cur, skip, have = Package{}, false, false
		return nil
	}
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A very long field (e.g. Description); skip the rest of it.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			line = nil
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		if len(line) > 0 || err == nil {
			n++
		}
		s := strings.TrimRight(string(line), "\r\n")
		if s == "" && len(line) > 0 {
			if ferr := flush(); ferr != nil {
				return nil, ferr
			}
		} else if len(s) > 0 && !skip && s[0] != ' ' && s[0] != '\t' {
			have = true
			k, v, ok := strings.Cut(s, ":")
			if !ok {
				return nil, fmt.Errorf("line %d: %q is not a field", n, s)
			}
			v = strings.TrimSpace(v)
			switch k {
			case "Package":
				cur.Name = v
				if keep != nil && !keep(v) {
					skip = true
				}
			case "Version":
				cur.Version = v
			case "Source":
				cur.Source = v
			case "Filename":
				cur.Filename = v
			case "SHA256":
				cur.SHA256 = v
			case "Depends":
				cur.Depends = v
			case "Size":
				size, perr := strconv.ParseInt(v, 10, 64)
				if perr != nil {
					return nil, fmt.Errorf("line %d: bad Size %q", n, v)
				}
				cur.Size = size
			}
		}
		if err == io.EOF {
			if ferr := flush(); ferr != nil {
				return nil, ferr
			}
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
