package btfproto

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Version is one function's prototype on one kernel.
type Version struct {
	// Kernel labels the kernel, e.g. "6.1" or "6.1 (6.1.0-28-cloud-amd64)".
	Kernel string `json:"kernel"`
	// Proto is nil when the function is not in that kernel's BTF.
	Proto *Proto `json:"proto,omitempty"`
	// Err says why Proto is nil (wraps ErrNotFound when it is simply absent).
	Err error `json:"-"`
}

// Change says how one position of a prototype differs across kernels.
type Change string

// Changes of a Line, from least to most severe.
const (
	// Same: every kernel that has the function agrees.
	Same Change = ""
	// Renamed: the type is the same everywhere, a name differs.
	Renamed Change = "renamed"
	// Retyped: the type differs (or the position exists on some kernels
	// only): a probe reading this position reads something else there.
	Retyped Change = "type"
	// Missing: some kernel has no prototype for the function at all.
	Missing Change = "missing"
)

// Line is one position of a prototype across kernels: the return value or
// one parameter.
type Line struct {
	// Position is 0 for the return value, n for parameter n (1-based).
	Position int `json:"position"`
	// Cells holds, per kernel in the order given, the parameter ("TYPE NAME"),
	// the return type, "-" when the function has fewer parameters there, or
	// "?" when the function is missing.
	Cells []string `json:"cells"`
	// Types holds the bare types, "" where Cells is "-" or "?".
	Types  []string `json:"types"`
	Change Change   `json:"change,omitempty"`
}

// Label is "return" or "arg N".
func (l Line) Label() string {
	if l.Position == 0 {
		return "return"
	}
	return fmt.Sprintf("arg %d", l.Position)
}

// Compare lines up the prototypes of one function across kernels: the
// return value first, then every parameter position any kernel has.
func Compare(versions []Version) []Line {
	width := 0
	missing := false
	for _, v := range versions {
		if v.Proto == nil {
			missing = true
			continue
		}
		width = max(width, len(v.Proto.Params))
	}
	lines := make([]Line, 0, width+1)
	for pos := 0; pos <= width; pos++ {
		l := Line{Position: pos}
		var names []string
		for _, v := range versions {
			cell, typ, name := "?", "", ""
			switch p := v.Proto; {
			case p == nil:
			case pos == 0:
				cell, typ = p.Return, p.Return
			default:
				cell = "-"
				if a, ok := p.Arg(pos); ok {
					cell, typ, name = a.String(), a.Type, a.Name
				}
			}
			l.Cells = append(l.Cells, cell)
			l.Types = append(l.Types, typ)
			if v.Proto != nil {
				names = append(names, name)
			}
		}
		l.Change = change(l.Cells, l.Types, names, missing)
		lines = append(lines, l)
	}
	return lines
}

func change(cells, types, names []string, missing bool) Change {
	var seen []string
	for i, t := range types {
		if cells[i] != "?" {
			seen = append(seen, t)
		}
	}
	for _, t := range seen {
		if t != seen[0] {
			return Retyped
		}
	}
	if missing {
		return Missing
	}
	for _, n := range names {
		if n != names[0] {
			return Renamed
		}
	}
	return Same
}

// Changed reports whether any line differs across the kernels.
func Changed(lines []Line) bool {
	for _, l := range lines {
		if l.Change != Same {
			return true
		}
	}
	return false
}

// WriteSideBySide writes one function's prototypes across kernels as a table,
// one column per kernel, one row per position, with a mark in the first
// column where the kernels disagree: "*" a type changed, "~" only a name,
// "?" the function is missing somewhere. A single kernel prints the
// prototype as one C declaration instead.
func WriteSideBySide(w io.Writer, name string, versions []Version) error {
	if len(versions) == 1 {
		v := versions[0]
		if v.Proto == nil {
			_, err := fmt.Fprintf(w, "%s: %v\n", name, v.Err)
			return err
		}
		_, err := fmt.Fprintf(w, "%s;\n", v.Proto)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"", name}
	for _, v := range versions {
		head = append(head, v.Kernel)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	lines := Compare(versions)
	for _, l := range lines {
		row := append([]string{mark(l.Change), l.Label()}, l.Cells...)
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if Changed(lines) {
		if _, err := fmt.Fprintln(w, legend); err != nil {
			return err
		}
	}
	for _, v := range versions {
		if v.Proto == nil && !errors.Is(v.Err, ErrNotFound) {
			if _, err := fmt.Fprintf(w, "  %s: %v\n", v.Kernel, v.Err); err != nil {
				return err
			}
		}
	}
	return nil
}

// legend explains the marks of WriteSideBySide.
const legend = "(* type changed: a probe reading that position reads something else; ~ only the name changed; ? not in that kernel's BTF: absent or inlined)"

func mark(c Change) string {
	switch c {
	case Retyped:
		return "*"
	case Renamed:
		return "~"
	case Missing:
		return "?"
	}
	return ""
}
