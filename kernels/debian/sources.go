package debian

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Source is one apt source: a set of URIs serving suites and components.
type Source struct {
	Types      []string // "deb", "deb-src"
	URIs       []string
	Suites     []string
	Components []string
	SignedBy   string
	Enabled    bool
}

// ParseDeb822 parses a deb822-style .sources file: stanzas of "Field: value"
// lines separated by blank lines, with "#" comments and indented continuation
// lines.
func ParseDeb822(r io.Reader) ([]Source, error) {
	var out []Source
	cur := map[string]string{}
	d := newDeb822(r, true)
	for {
		kind, k, v, err := d.next()
		switch {
		case err == io.EOF:
			return out, nil
		case err != nil:
			return nil, err
		case kind == deb822End && len(cur) > 0:
			out = append(out, Source{
				Types:      strings.Fields(cur["types"]),
				URIs:       strings.Fields(cur["uris"]),
				Suites:     strings.Fields(cur["suites"]),
				Components: strings.Fields(cur["components"]),
				SignedBy:   strings.TrimSpace(cur["signed-by"]),
				Enabled:    !strings.EqualFold(strings.TrimSpace(cur["enabled"]), "no"),
			})
			cur = map[string]string{}
		case kind == deb822Field:
			cur[strings.ToLower(k)] = v
		case kind == deb822Continuation:
			cur[strings.ToLower(k)] += "\n" + strings.TrimSpace(v)
		}
	}
}

// ParseOneLine parses a one-line-style sources.list:
//
//	deb [signed-by=/path arch=amd64] URI SUITE [COMPONENT...]
func ParseOneLine(r io.Reader) ([]Source, error) {
	var out []Source
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		s := Source{Types: []string{f[0]}, Enabled: true}
		f = f[1:]
		if len(f) > 0 && strings.HasPrefix(f[0], "[") {
			var opts []string
			for len(f) > 0 {
				o := f[0]
				f = f[1:]
				opts = append(opts, strings.Trim(o, "[]"))
				if strings.HasSuffix(o, "]") {
					break
				}
			}
			for _, o := range opts {
				if k, v, ok := strings.Cut(o, "="); ok && k == "signed-by" {
					s.SignedBy = v
				}
			}
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("line %d: want TYPE URI SUITE [COMPONENT...], got %q", n, sc.Text())
		}
		s.URIs = []string{f[0]}
		s.Suites = []string{f[1]}
		s.Components = f[2:]
		out = append(out, s)
	}
	return out, sc.Err()
}

// ErrNoMirror is returned when no apt source names a Debian archive.
var ErrNoMirror = errors.New("no Debian mirror in apt sources")

// SystemSources reads the apt sources of this machine under root ("/" for the
// running system): etc/apt/sources.list, etc/apt/sources.list.d/*.list and
// etc/apt/sources.list.d/*.sources.
func SystemSources(root string) ([]Source, error) {
	var out []Source
	read := func(path string, parse func(io.Reader) ([]Source, error)) error {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		s, err := parse(f)
		if err != nil {
			return fmt.Errorf("parse %s: %w", path, err)
		}
		out = append(out, s...)
		return nil
	}
	if err := read(filepath.Join(root, "etc/apt/sources.list"), ParseOneLine); err != nil {
		return nil, err
	}
	d := filepath.Join(root, "etc/apt/sources.list.d")
	lists, _ := filepath.Glob(filepath.Join(d, "*.list"))
	deb822, _ := filepath.Glob(filepath.Join(d, "*.sources"))
	sort.Strings(lists)
	sort.Strings(deb822)
	for _, p := range lists {
		if err := read(p, ParseOneLine); err != nil {
			return nil, err
		}
	}
	for _, p := range deb822 {
		if err := read(p, ParseDeb822); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MirrorFrom picks the Debian archive mirror from sources: the first URI of
// an enabled "deb" source whose suites are not security or updates-only
// suites (which are served from separate archives).
func MirrorFrom(sources []Source) (string, error) {
	for _, s := range sources {
		if !s.Enabled || !contains(s.Types, "deb") || len(s.URIs) == 0 {
			continue
		}
		main := false
		for _, suite := range s.Suites {
			if !strings.HasSuffix(suite, "-security") && !strings.Contains(suite, "/updates") {
				main = true
			}
		}
		if !main {
			continue
		}
		for _, u := range s.URIs {
			if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
				return strings.TrimRight(u, "/"), nil
			}
		}
	}
	return "", ErrNoMirror
}

// SystemMirror returns the Debian mirror of this machine's apt sources.
func SystemMirror() (string, error) {
	s, err := SystemSources("/")
	if err != nil {
		return "", err
	}
	return MirrorFrom(s)
}

func contains(list []string, s string) bool {
	return slices.Contains(list, s)
}
