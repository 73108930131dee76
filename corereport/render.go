package corereport

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/corematrix/corematrix/report"
)

// Format is an output format of a Matrix.
type Format string

// The output formats.
const (
	FormatTable    Format = "table"
	FormatMarkdown Format = "markdown"
	FormatJSON     Format = "json"
)

// ErrUnknownFormat is returned by Write for a format it does not know.
var ErrUnknownFormat = fmt.Errorf("unknown format (want %s, %s or %s)", FormatTable, FormatMarkdown, FormatJSON)

// legend explains the cells that are not plain values.
const legend = "POISONED: the kernel has no target for the relocation and the program reaches it: the load fails.\n" +
	"poison (dead): no target either, but only behind a CO-RE check that is false on that kernel: it loads.\n" +
	"ABSENT: the kernel's BTF lacks the helper, kfunc, type or attach target: the program fails.\n" +
	"ok*: absent too, but the loader falls back or the use is dead code on that kernel: it loads.\n" +
	"unknown: BTF, config and kallsyms cannot tell (see the notes); never counted as a failure.\n" +
	"loads: nothing in the kernel's BTF, config or kallsyms stops the program; the verifier's acceptance is not predicted (vmtest load boots and tries).\n" +
	"loads; attach FAILS: the program loads but its attach target is missing or cannot be traced on that kernel."

// Write renders m to w in format f.
func (m *Matrix) Write(w io.Writer, f Format) error {
	switch f {
	case FormatTable:
		return m.WriteTable(w)
	case FormatMarkdown:
		return m.WriteMarkdown(w)
	case FormatJSON:
		return m.WriteJSON(w)
	}
	return fmt.Errorf("write %q: %w", f, ErrUnknownFormat)
}

// WriteJSON writes m as indented JSON.
func (m *Matrix) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

// WriteTable writes m as aligned plain-text tables for a terminal: the
// relocations, then the predicted load outcome per program, then notes.
func (m *Matrix) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CO-RE relocations of %s\n\n", m.Object)

	fmt.Fprintf(tw, "PROGRAM\tRELOCATION\tKIND")
	for _, k := range m.Kernels {
		fmt.Fprintf(tw, "\t%s", kernelLabel(k))
	}
	fmt.Fprintln(tw)
	prev := ""
	for _, r := range m.Relocations {
		writeGroupedRow(tw, &prev, r.Program, []string{r.Access, string(r.Kind)}, r.Cells)
	}

	rows, plain := m.findingRows()
	if len(rows) > 0 {
		fmt.Fprintf(tw, "\nPROGRAM\tNEEDS\tCHECK")
		for _, k := range m.Kernels {
			fmt.Fprintf(tw, "\t%s", kernelLabel(k))
		}
		fmt.Fprintln(tw)
		prev = ""
		for _, r := range rows {
			writeGroupedRow(tw, &prev, r.Program, []string{r.Subject, string(r.Check)}, r.Cells)
		}
	}
	if plain > 0 {
		fmt.Fprintf(tw, "\n%d more helper, map, type and attach-target checks: ok on every kernel.\n", plain)
	}

	fmt.Fprintf(tw, "\nPREDICTED LOAD")
	for _, k := range m.Kernels {
		fmt.Fprintf(tw, "\t%s", kernelLabel(k))
	}
	fmt.Fprintln(tw)
	for _, p := range m.Programs {
		fmt.Fprint(tw, p.Name)
		for _, c := range p.Cells {
			fmt.Fprintf(tw, "\t%s", c.Text())
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	notes := m.notes()
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
	if m.Args != nil {
		if err := m.Args.writeTable(w); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\n%s\n", legend)
	return err
}

// WriteMarkdown writes m as GitHub-flavoured Markdown, for a job summary.
func (m *Matrix) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### CO-RE relocations of `%s`\n\n", m.Object)

	t := m.kernelTable("program", "relocation", "kind")
	for _, r := range m.Relocations {
		row := []string{mdEscape(r.Program), report.MarkdownCode(r.Access), mdEscape(string(r.Kind))}
		for _, c := range r.Cells {
			row = append(row, bold(mdEscape(c.Text()), c.Unguarded))
		}
		t.Add(row...)
	}
	t.Write(&b)

	rows, plain := m.findingRows()
	if len(rows) > 0 {
		b.WriteString("\n#### Helpers, kfuncs, types and attach targets\n\n")
		t := m.kernelTable("program", "needs", "check")
		for _, r := range rows {
			row := []string{mdEscape(r.Program), report.MarkdownCode(r.Subject), mdEscape(string(r.Check))}
			for _, c := range r.Cells {
				row = append(row, bold(mdEscape(c.Text()), !c.NA && c.Verdict == Fails))
			}
			t.Add(row...)
		}
		t.Write(&b)
	}
	if plain > 0 {
		fmt.Fprintf(&b, "\n%d more helper, map, type and attach-target checks: ok on every kernel.\n", plain)
	}

	b.WriteString("\n#### Predicted load\n\n")
	t = m.kernelTable("program")
	for _, p := range m.Programs {
		row := []string{mdEscape(p.Name)}
		for _, c := range p.Cells {
			text := bold(mdEscape(c.Text()), !c.NA && !c.Loads)
			if !c.NA && c.Loads && c.Verdict == Unknown {
				text = "_" + text + "_"
			}
			row = append(row, text)
		}
		t.Add(row...)
	}
	t.Write(&b)
	if notes := m.notes(); len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", mdEscape(n))
		}
	}
	if m.Args != nil {
		m.Args.writeMarkdown(&b)
	}
	b.WriteString("\n" + strings.ReplaceAll(legend, "\n", "  \n") + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// notes explains every failing and missing cell in one line each.
func (m *Matrix) notes() []string {
	var out []string
	for i, k := range m.Kernels {
		if k.Result == nil {
			out = append(out, fmt.Sprintf("%s: n/a: %s", kernelLabel(k), k.Err))
			continue
		}
		for _, n := range k.Result.Notes {
			out = append(out, fmt.Sprintf("%s: %s", kernelLabel(k), n))
		}
		for _, p := range m.Programs {
			switch c := p.Cells[i]; {
			case c.NA:
			case !c.Loads:
				out = append(out, fmt.Sprintf("%s FAILS on %s: %s", p.Name, kernelLabel(k), c.Reason))
			case c.Verdict == Unknown:
				out = append(out, fmt.Sprintf("%s unknown on %s: %s", p.Name, kernelLabel(k), c.Reason))
			}
		}
	}
	for _, r := range m.Findings {
		for i, c := range r.Cells {
			if !c.NA && c.Verdict == Loads && c.Detail != "" {
				out = append(out, fmt.Sprintf("%s %s ok* on %s: %s", r.Program, r.Subject, kernelLabel(m.Kernels[i]), c.Detail))
			}
		}
	}
	return out
}

// findingRows returns the finding rows worth a look (any cell other than a
// plain ok) and how many rows were plain.
func (m *Matrix) findingRows() (rows []FindingRow, plain int) {
	for _, r := range m.Findings {
		if r.plain() {
			plain++
			continue
		}
		rows = append(rows, r)
	}
	return rows, plain
}

// kernelTable returns a Markdown table of the columns head and one per
// kernel.
func (m *Matrix) kernelTable(head ...string) report.MarkdownTable {
	t := report.MarkdownTable{Head: head}
	for _, k := range m.Kernels {
		t.Head = append(t.Head, mdEscape(kernelLabel(k)))
	}
	return t
}

// bold makes Markdown text bold when loud.
func bold(md string, loud bool) string {
	if loud {
		return "**" + md + "**"
	}
	return md
}

// mdEscape keeps text from breaking a Markdown table cell or making a link
// or an image: the one escaper every table uses (report.EscapeMarkdown).
func mdEscape(s string) string { return report.EscapeMarkdown(s) }

// writeGroupedRow writes one table row: the program name (blank when it is
// the same as the row above, *prev), the columns, then one cell per kernel.
func writeGroupedRow[C interface{ Text() string }](w io.Writer, prev *string, program string, cols []string, cells []C) {
	name := program
	if program == *prev {
		name = ""
	}
	*prev = program
	fmt.Fprint(w, name)
	for _, c := range cols {
		fmt.Fprintf(w, "\t%s", c)
	}
	for _, c := range cells {
		fmt.Fprintf(w, "\t%s", c.Text())
	}
	fmt.Fprintln(w)
}
