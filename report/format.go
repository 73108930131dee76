package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/corematrix/corematrix/internal/redact"
	"github.com/corematrix/corematrix/internal/termtext"
)

// outcomeOrder is the order outcomes are counted in headers.
var outcomeOrder = []Outcome{Pass, Fail, Skip, Panic, Timeout, BootFailure, InfraError, Unavailable, Interrupted}

// Emoji returns the symbol summary.md shows for an outcome.
func (o Outcome) Emoji() string {
	switch o {
	case Pass:
		return "✅"
	case Fail:
		return "❌"
	case Skip:
		return "⏭"
	case Panic:
		return "💥"
	case Timeout:
		return "⏱"
	case BootFailure:
		return "🚫"
	case InfraError:
		return "🛠"
	case Unavailable:
		return "❔"
	case Interrupted:
		return "✋"
	}
	return "❓"
}

// testEmoji is the matrix symbol of one test's status.
func testEmoji(status string) string {
	switch status {
	case "pass":
		return "✅"
	case "fail":
		return "❌"
	case "skip":
		return "⏭"
	}
	return "❌ " + cell(status)
}

// counts of test statuses in one kernel.
type testCounts struct{ pass, fail, skip int }

// countTests counts r's tests as the verdict's reason does: each test
// without subtests once (CountTests).
func countTests(r KernelResult) testCounts {
	var c testCounts
	c.pass, c.fail, c.skip = CountTests(r.Tests)
	return c
}

// outcomeCounts returns "✅ 2 pass · 💥 1 panic" style text for the kernels of s.
func outcomeCounts(s Summary, emoji bool) string {
	n := map[Outcome]int{}
	var unknown []Outcome
	for _, k := range s.Kernels {
		if n[k.Outcome] == 0 && !containsOutcome(outcomeOrder, k.Outcome) {
			unknown = append(unknown, k.Outcome)
		}
		n[k.Outcome]++
	}
	var parts []string
	for _, o := range append(outcomeOrder, unknown...) {
		if n[o] == 0 {
			continue
		}
		if emoji {
			parts = append(parts, fmt.Sprintf("%s %d %s", o.Emoji(), n[o], cell(string(o))))
		} else {
			parts = append(parts, fmt.Sprintf("%d %s", n[o], termtext.Line(string(o))))
		}
	}
	sep := ", "
	if emoji {
		sep = " · "
	}
	return strings.Join(parts, sep)
}

func containsOutcome(os []Outcome, o Outcome) bool {
	return slices.Contains(os, o)
}

// duration formats seconds for tables: "—" for zero, "850ms", "3.2s", "2m05s".
func duration(sec float64) string {
	switch {
	case sec <= 0:
		return "—"
	case sec < 1:
		return fmt.Sprintf("%dms", int(math.Round(sec*1000)))
	case sec < 60:
		return fmt.Sprintf("%.1fs", sec)
	default:
		m := int(sec) / 60
		return fmt.Sprintf("%dm%02ds", m, int(sec)-m*60)
	}
}

// maxCell bounds the text of one table cell.
const maxCell = 200

// cell makes text safe for one GitHub Markdown table cell: one line, pipes
// and HTML escaped, at most maxCell characters.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxCell {
		r := []rune(s)
		s = string(r[:maxCell-1]) + "…"
	}
	return cellEscape(s)
}

// cellEscape is EscapeMarkdown: every table cell and line of untrusted
// text in a summary goes through it.
func cellEscape(s string) string { return EscapeMarkdown(redact.URLs(s)) }

// EscapeMarkdown is the one Markdown escaper for text that may come from a
// guest, an image or another shard's report, used by every table and list
// that corematrix writes (summary.md, the job summary, core-report
// --format markdown). It escapes what would break a table row (pipes), be
// taken for HTML ('<' starting a tag: followed by a letter, '/', '!' or
// '?'; a '<' before a space or digit, "kernel < 5.5", stays readable), or
// make a link or an image: '[' and ']' (so no "[text](url)" or
// "![alt](url)"), and the "://" and "www." that GitHub turns into links on
// their own. Backslashes are escaped first, so none of these escapes can be
// undone by the text.
func EscapeMarkdown(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '|' || c == '[' || c == ']':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '<' && i+1 < len(s) && isTagStart(s[i+1]):
			b.WriteString("&lt;")
		case c == ':' && strings.HasPrefix(s[i+1:], "//"):
			b.WriteString(`\:`)
		case (c == 'w' || c == 'W') && len(s)-i >= 4 && strings.EqualFold(s[i:i+4], "www.") && (i == 0 || !isWordByte(s[i-1])):
			b.WriteString(s[i:i+3] + `\.`)
			i += 3
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isTagStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/' || c == '!' || c == '?'
}

// code renders s as inline code inside a table cell. Pipes must still be
// escaped there in GitHub tables.
func code(s string) string {
	if s == "" {
		return ""
	}
	s = strings.Join(strings.Fields(s), " ")
	ticks := "`"
	for strings.Contains(s, ticks) {
		ticks += "`"
	}
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return ticks + pad + strings.ReplaceAll(s, "|", `\|`) + pad + ticks
}

// fence returns a code fence longer than any backtick run in text.
func fence(text string) string {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// headLines returns the first n lines of text and how many were left out.
func headLines(text string, n int) (string, int) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) <= n {
		return strings.Join(lines, "\n"), 0
	}
	return strings.Join(lines[:n], "\n"), len(lines) - n
}

// testOutput drops the runner's "=== RUN/PAUSE/CONT/NAME" framing lines from a
// test's output, keeping what the test said.
func testOutput(out string) string {
	var keep []string
	for l := range strings.SplitSeq(out, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "=== RUN") || strings.HasPrefix(t, "=== PAUSE") ||
			strings.HasPrefix(t, "=== CONT") || strings.HasPrefix(t, "=== NAME") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}
