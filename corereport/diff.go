package corereport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/corematrix/corematrix/argread"
	"github.com/corematrix/corematrix/btfproto"
	"github.com/corematrix/corematrix/report"
)

// Diff is what differs for one object between two kernels: the answer to
// "what changed between my last green kernel and the first red one".
type Diff struct {
	Object string `json:"object"`
	// Kernels are the two kernels, A then B.
	Kernels [2]Column `json:"kernels"`
	// Relocations whose values, poison or existence differ.
	Relocations []Row `json:"relocations"`
	// Findings (helpers, kfuncs, types, attach targets) whose verdict or
	// evidence differs, or that a program needs on one kernel only.
	Findings []FindingRow `json:"findings"`
	// Programs whose predicted outcome differs.
	Programs []ProgramRow `json:"programs"`
	// Prototypes of traced functions that differ (see Args).
	Prototypes []Prototype `json:"prototypes"`
	// ArgReads whose type, or whether they run, differs.
	ArgReads []argread.Finding `json:"arg_reads"`
}

// ErrDiffKernels is returned by Matrix.Diff for a matrix that is not two
// kernels with results.
var ErrDiffKernels = errors.New("a diff needs exactly two kernels with BTF")

// Diff keeps the rows of m, a matrix of exactly two kernels, that differ
// between them.
func (m *Matrix) Diff() (*Diff, error) {
	if len(m.Kernels) != 2 {
		return nil, fmt.Errorf("%w: got %d", ErrDiffKernels, len(m.Kernels))
	}
	for _, k := range m.Kernels {
		if k.Result == nil {
			return nil, fmt.Errorf("%w: %s: %s", ErrDiffKernels, k.Name, k.Err)
		}
	}
	d := &Diff{Object: m.Object, Kernels: [2]Column{m.Kernels[0], m.Kernels[1]},
		Relocations: []Row{}, Findings: []FindingRow{}, Programs: []ProgramRow{}}
	for _, r := range m.Relocations {
		if r.Cells[0].Text() != r.Cells[1].Text() {
			d.Relocations = append(d.Relocations, r)
		}
	}
	for _, r := range m.Findings {
		if r.Cells[0] != r.Cells[1] {
			d.Findings = append(d.Findings, r)
		}
	}
	for _, p := range m.Programs {
		a, b := p.Cells[0], p.Cells[1]
		if a.Text() != b.Text() || a.Reason != b.Reason {
			d.Programs = append(d.Programs, p)
		}
	}
	d.Prototypes, d.ArgReads = []Prototype{}, []argread.Finding{}
	if m.Args != nil && len(m.Args.Kernels) == 2 {
		for _, p := range m.Args.Prototypes {
			if p.Changed() {
				d.Prototypes = append(d.Prototypes, p)
			}
		}
		for _, f := range m.Args.Findings {
			if cellText(f, f.Cells[0]) != cellText(f, f.Cells[1]) {
				d.ArgReads = append(d.ArgReads, f)
			}
		}
	}
	return d, nil
}

// Empty reports whether nothing differs.
func (d *Diff) Empty() bool {
	return len(d.Relocations) == 0 && len(d.Findings) == 0 && len(d.Programs) == 0 &&
		len(d.Prototypes) == 0 && len(d.ArgReads) == 0
}

// Write renders d to w in format f.
func (d *Diff) Write(w io.Writer, f Format) error {
	switch f {
	case FormatTable:
		return d.writeText(w, false)
	case FormatMarkdown:
		return d.writeText(w, true)
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	}
	return fmt.Errorf("write %q: %w", f, ErrUnknownFormat)
}

// writeText writes d as aligned text, or as Markdown tables when md is set.
func (d *Diff) writeText(w io.Writer, md bool) error {
	a, b := kernelLabel(d.Kernels[0]), kernelLabel(d.Kernels[1])
	t := &textWriter{md: md}
	switch {
	case d.Empty():
		fmt.Fprintf(&t.out, "Nothing differs for %s between %s and %s: the same relocation values, helpers, types, attach targets and traced prototypes, the same predictions.\n", d.Object, a, b)
	case md:
		fmt.Fprintf(&t.out, "### What differs for `%s` between %s and %s\n", d.Object, mdEscape(a), mdEscape(b))
	default:
		fmt.Fprintf(&t.out, "What differs for %s between %s and %s\n", d.Object, a, b)
	}
	if !d.Empty() {
		d.writeTables(t, a, b)
		for _, p := range d.Prototypes {
			if err := t.block(func(out io.Writer) error { return btfproto.WriteSideBySide(out, p.Function, p.Versions) }); err != nil {
				return err
			}
		}
		t.list(d.notes())
	}
	_, err := io.WriteString(w, t.out.String())
	return err
}

// writeTables writes the tables of what differs: predictions, checks,
// relocations and argument reads; a and b head the kernels' columns.
func (d *Diff) writeTables(t *textWriter, a, b string) {
	var rows [][]string
	for _, p := range d.Programs {
		rows = append(rows, []string{p.Name, p.Cells[0].Text(), p.Cells[1].Text()})
	}
	t.table([]string{"PREDICTED", a, b}, rows)
	rows = nil
	for _, r := range d.Findings {
		rows = append(rows, []string{r.Program, r.Subject, string(r.Check), r.Cells[0].Text(), r.Cells[1].Text()})
	}
	t.table([]string{"PROGRAM", "NEEDS", "CHECK", a, b}, rows)
	rows = nil
	for _, r := range d.Relocations {
		rows = append(rows, []string{r.Program, r.Access, string(r.Kind), r.Cells[0].Text(), r.Cells[1].Text()})
	}
	t.table([]string{"PROGRAM", "RELOCATION", "KIND", a, b}, rows)
	rows = nil
	for _, f := range d.ArgReads {
		rows = append(rows, []string{f.Program, f.Attach + " " + f.Target, f.Label(), f.Via,
			cellText(f, f.Cells[0]), cellText(f, f.Cells[1]), verdictText(f)})
	}
	t.table([]string{"PROGRAM", "TARGET", "READS", "VIA", a, b, "VERDICT"}, rows)
}

// notes says why, for every cell of the diff that is not a plain value.
func (d *Diff) notes() []string {
	var notes []string
	for i, k := range d.Kernels {
		for _, r := range d.Findings {
			if c := r.Cells[i]; !c.NA && c.Detail != "" {
				notes = append(notes, fmt.Sprintf("%s %s on %s: %s", r.Program, r.Subject, kernelLabel(k), c.Detail))
			}
		}
		for _, p := range d.Programs {
			if c := p.Cells[i]; !c.NA && c.Reason != "" {
				notes = append(notes, fmt.Sprintf("%s %s on %s: %s", p.Name, c.Text(), kernelLabel(k), c.Reason))
			}
		}
	}
	return notes
}

// textWriter writes a report as aligned text for a terminal, or as
// Markdown.
type textWriter struct {
	out strings.Builder
	md  bool
}

// table writes a table with a header row; nothing when rows is empty.
func (t *textWriter) table(head []string, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	t.out.WriteString("\n")
	if t.md {
		mt := report.MarkdownTable{Head: head}
		for _, r := range rows {
			for i := range r {
				r[i] = mdEscape(r[i])
			}
			mt.Add(r...)
		}
		mt.Write(&t.out)
		return
	}
	tw := tabwriter.NewWriter(&t.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// block writes what write writes as preformatted text (a code block in
// Markdown), after a blank line.
func (t *textWriter) block(write func(io.Writer) error) error {
	t.out.WriteString("\n")
	if t.md {
		t.out.WriteString("```\n")
	}
	if err := write(&t.out); err != nil {
		return err
	}
	if t.md {
		t.out.WriteString("```\n")
	}
	return nil
}

// list writes lines after a blank line, as a Markdown list in Markdown;
// nothing when there are none.
func (t *textWriter) list(lines []string) {
	if len(lines) == 0 {
		return
	}
	t.out.WriteString("\n")
	for _, l := range lines {
		if t.md {
			l = "- " + mdEscape(l)
		}
		t.out.WriteString(l + "\n")
	}
}
