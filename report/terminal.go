package report

import (
	"github.com/corematrix/corematrix/kernel"

	"fmt"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/corematrix/corematrix/internal/redact"
	"github.com/corematrix/corematrix/internal/termtext"
)

// maxReason bounds the reason column of the terminal table.
const maxReason = 100

// Terminal renders s as a compact plain-text table for the end of a run: per
// kernel its architecture, the outcome, release, tests passed/failed/skipped, boot and total
// time and the reason; then one line of counts, and a line per program whose
// load contradicted the offline prediction.
func Terminal(s Summary) string {
	s = normalize(s)
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNEL\tARCH\tOUTCOME\tRELEASE\tPASS\tFAIL\tSKIP\tBOOT\tTOTAL\tREASON")
	for _, k := range s.Kernels {
		k.Kernel.Name, k.Reason = termtext.Line(k.Kernel.Name), termtext.Line(k.Reason)
		c := countTests(k)
		release := termtext.Line(k.Kernel.Release)
		if release == "" {
			release = termtext.Line(k.Kernel.Version)
		}
		if release == "" {
			release = "-"
		}
		if k.Kernel.Unverified {
			release += " (UNVERIFIED)"
		}
		if k.Kernel.PinnedElsewhere {
			release += " (PINNED by kernels.lock: " + termtext.Line(k.Kernel.Source) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n",
			k.Kernel.Name, termtext.Line(archOf(k.Kernel)), k.Outcome, release, c.pass, c.fail, c.skip,
			plainDuration(k.Timings.Boot), plainDuration(k.Timings.Total), shorten(k.Reason, maxReason))
	}
	tw.Flush()
	if len(s.Kernels) == 0 {
		b.WriteString("no kernels\n")
	} else {
		passed := 0
		for _, k := range s.Kernels {
			if k.Outcome.Passed() {
				passed++
			}
		}
		fmt.Fprintf(&b, "%d/%d kernels passed: %s\n", passed, len(s.Kernels), outcomeCounts(s, false))
	}
	for _, d := range Disagreements(s) {
		other := ""
		if d.OtherCause {
			other = fmt.Sprintf(": another cause (%s, not %s)", d.ActualCause, strings.Join(d.Causes, ", "))
		}
		fmt.Fprintf(&b, "DISAGREE %s %s: predicted %s, actually %s%s\n", termtext.Line(d.Kernel), termtext.Line(d.Program), predictedPlain(d), loadedPlain(d), termtext.Line(other))
	}
	for _, k := range s.Kernels {
		for _, r := range k.Refused {
			fmt.Fprintf(&b, "REFUSED %s: file %q sent back by the guest: %s\n", termtext.Line(k.Kernel.Name), termtext.Line(r.Path), termtext.Line(r.Reason))
		}
	}
	// Names, reasons and errors come from images, guests and report files:
	// no control character of theirs reaches the terminal.
	return termtext.Strip(redact.URLs(b.String()), true)
}

func plainDuration(sec float64) string {
	if sec <= 0 {
		return "-"
	}
	return duration(sec)
}

// shorten returns the first line of s, cut to n characters.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n-1]) + "…"
	}
	return s
}

func predictedPlain(c ProgramCheck) string {
	if c.Predicted {
		return "loads"
	}
	if c.Reason != "" {
		return "fails (" + shorten(c.Reason, maxReason) + ")"
	}
	return "fails"
}

func loadedPlain(c ProgramCheck) string {
	if c.Loaded {
		return "loaded"
	}
	if c.Error != "" {
		return "failed (" + shorten(c.Error, maxReason) + ")"
	}
	return "failed"
}

// archOf is k's architecture as reports show it: amd64 for reports written
// before kernels had one.
func archOf(k kernel.Kernel) string {
	if k.Arch == "" {
		return string(kernel.AMD64)
	}
	return string(k.Arch)
}
