package report

import "strings"

// MarkdownTable is a GitHub Markdown table. Every table corematrix writes
// goes through it: summary.md and the job summary, core-report and vmtest
// load --format markdown. Its cells are Markdown already: text that may
// come from a guest, an image or another report is made safe first with
// EscapeMarkdown (MarkdownCell and MarkdownCode use it).
type MarkdownTable struct {
	Head []string
	// Align holds the delimiter cell of each column ("---", ":---:",
	// "---:"); a column without one is "---".
	Align []string
	Rows  [][]string
}

// Add appends a row.
func (t *MarkdownTable) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

// Write writes the table to b: the head, the delimiter row, the rows.
func (t *MarkdownTable) Write(b *strings.Builder) {
	b.WriteString("| " + strings.Join(t.Head, " | ") + " |\n|")
	for i := range t.Head {
		d := "---"
		if i < len(t.Align) && t.Align[i] != "" {
			d = t.Align[i]
		}
		b.WriteString(d + "|")
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
}

// MarkdownCell makes text safe for one table cell: one line, escaped
// (EscapeMarkdown), URLs redacted, at most 200 characters.
func MarkdownCell(s string) string { return cell(s) }

// MarkdownCode renders s as inline code for a table cell (pipes escaped).
func MarkdownCode(s string) string { return code(s) }
