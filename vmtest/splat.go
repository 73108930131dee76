package vmtest

import (
	"regexp"
	"strings"
)

// splatPatterns match the console lines that make a kernel's run a panic:
// an explicit panic, a BUG: (oopses start with one), or a soft lockup.
var splatPatterns = []*regexp.Regexp{
	regexp.MustCompile(`Kernel panic - not syncing`),
	regexp.MustCompile(`\bBUG: `),
	regexp.MustCompile(`soft lockup - CPU#`),
}

// timestamp matches the "[   12.345678] " prefix of printk lines, with an
// optional syslog level ("<4>") as kmsg has it.
var timestamp = regexp.MustCompile(`^(<\d+>)?\[\s*\d+\.\d+\]\s?`)

// Splat is a kernel error found in a console log.
type Splat struct {
	// Line is the first matching line, without its timestamp.
	Line string
	// Trace is the excerpt around it: from the "cut here" marker or a few
	// lines before, to the end-of-panic marker or a bounded number of lines.
	Trace string
}

// FindSplat returns the first kernel panic, BUG: or soft lockup in a console
// log, or nil when the log is clean.
func FindSplat(console []byte) *Splat {
	lines := strings.Split(strings.ReplaceAll(string(console), "\r", ""), "\n")
	for i, l := range lines {
		for _, p := range splatPatterns {
			if !p.MatchString(l) {
				continue
			}
			return &Splat{Line: strings.TrimSpace(timestamp.ReplaceAllString(l, "")), Trace: traceAround(lines, i)}
		}
	}
	return nil
}

const (
	traceBefore = 20  // lines searched back for "cut here"
	traceAfter  = 120 // lines kept after the first match at most
)

func traceAround(lines []string, at int) string {
	start := max(at-3, 0)
	for i := at; i >= 0 && i >= at-traceBefore; i-- {
		if strings.Contains(lines[i], "[ cut here ]") {
			start = i
			break
		}
	}
	end := min(at+traceAfter, len(lines))
	for i := at; i < end; i++ {
		if strings.Contains(lines[i], "---[ end Kernel panic") || strings.Contains(lines[i], "---[ end trace") {
			end = i + 1
			if strings.Contains(lines[i], "end Kernel panic") {
				break
			}
		}
	}
	return strings.TrimRight(strings.Join(lines[start:end], "\n"), "\n") + "\n"
}
