package debian

import (
	"fmt"
	"io"
	"strconv"
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
	d := newDeb822(r, false)
	var cur Package
	skip, have := false, false
	for {
		kind, k, v, err := d.next()
		switch {
		case err == io.EOF:
			return out, nil
		case err != nil:
			return nil, err
		case kind == deb822End:
			if have && !skip {
				if cur.Name == "" || cur.Filename == "" || cur.Version == "" {
					return nil, fmt.Errorf("stanza ending at line %d lacks Package, Version or Filename", d.line)
				}
				out = append(out, cur)
			}
			cur, skip, have = Package{}, false, false
		case kind == deb822Field && !skip:
			have = true
			if err := cur.set(k, v); err != nil {
				return nil, fmt.Errorf("line %d: %w", d.line, err)
			}
			skip = k == "Package" && keep != nil && !keep(v)
		}
	}
}

// set sets the field k of p to v.
func (p *Package) set(k, v string) error {
	switch k {
	case "Package":
		p.Name = v
	case "Version":
		p.Version = v
	case "Source":
		p.Source = v
	case "Filename":
		p.Filename = v
	case "SHA256":
		p.SHA256 = v
	case "Depends":
		p.Depends = v
	case "Size":
		size, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("bad Size %q", v)
		}
		p.Size = size
	}
	return nil
}
