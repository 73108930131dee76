package vmtest

import (
	"regexp"
	"strings"
)

// SplatKind names a class of kernel error report.
type SplatKind string

// Kinds of splats, from the console line that starts each.
const (
	SplatPanic    SplatKind = "panic"     // Kernel panic - not syncing: ...
	SplatOops     SplatKind = "oops"      // Oops:, general protection fault, BUG: kernel NULL pointer dereference, BUG: unable to handle ...
	SplatBug      SplatKind = "bug"       // kernel BUG at file:line! (BUG_ON, followed by an oops)
	SplatLockup   SplatKind = "lockup"    // soft and hard lockups
	SplatWarning  SplatKind = "warning"   // WARNING: CPU: 0 PID: 1 at file:line func (WARN_ON and friends), lockdep
	SplatRCUStall SplatKind = "rcu-stall" // rcu: INFO: rcu_preempt detected stalls on CPUs/tasks
	SplatHungTask SplatKind = "hung-task" // INFO: task X:123 blocked for more than 120 seconds.
	SplatKASAN    SplatKind = "kasan"     // BUG: KASAN: slab-out-of-bounds in ...
	SplatKFENCE   SplatKind = "kfence"    // BUG: KFENCE: out-of-bounds read in ...
	SplatUBSAN    SplatKind = "ubsan"     // UBSAN: shift-out-of-bounds in file:line
	SplatOtherBug SplatKind = "bug-other" // any other "BUG: " line (sleeping function called from invalid context, bad page state, ...)
)

// splatPattern recognises the first line of one kind of splat. Fatal splats
// end the run as a panic: the kernel stopped, or killed the task it was
// running (an oops), or stopped scheduling (a lockup). The others are reports
// after which the kernel carries on.
type splatPattern struct {
	kind  SplatKind
	fatal bool
	re    *regexp.Regexp
}

// splatPatterns are tried in order on each console line (timestamp
// removed); the first match wins. The formats are those of x86-64 kernels
// 5.4 to 7.x.
var splatPatterns = []splatPattern{
	{SplatPanic, true, regexp.MustCompile(`^Kernel panic - not syncing`)},
	{SplatKASAN, false, regexp.MustCompile(`^BUG: KASAN: `)},
	{SplatKFENCE, false, regexp.MustCompile(`^BUG: KFENCE: `)},
	{SplatLockup, true, regexp.MustCompile(`soft lockup - CPU#\d+ stuck|Watchdog detected hard LOCKUP on cpu`)},
	{SplatOops, true, regexp.MustCompile(`^BUG: (kernel NULL pointer dereference|unable to handle)|^Oops: |^general protection fault|^stack segment: |^double fault: |^kernel stack overflow`)},
	{SplatBug, true, regexp.MustCompile(`^kernel BUG at `)},
	{SplatOtherBug, false, regexp.MustCompile(`^BUG: `)},
	{SplatUBSAN, false, regexp.MustCompile(`^UBSAN: `)},
	{SplatRCUStall, false, regexp.MustCompile(`^(rcu: )?INFO: rcu_\w+ (self-)?detected (stalls?|expedited stalls)`)},
	{SplatHungTask, false, regexp.MustCompile(`^INFO: task .*blocked for more than \d+ seconds`)},
	{SplatWarning, false, regexp.MustCompile(`^WARNING: `)},
}

// timestamp matches the "[   12.345678] " prefix of printk lines, with an
// optional syslog level ("<4>") as kmsg has it and an optional caller id
// ("[    T1] ", CONFIG_PRINTK_CALLER).
var timestamp = regexp.MustCompile(`^(<\d+>)?\[\s*\d+\.\d+\]\s?(\[\s*[TC]\d+\]\s?)?`)

// subsystem matches a "watchdog: " or "rcu: " prefix some splats carry.
var subsystem = regexp.MustCompile(`^(watchdog|rcu|NMI watchdog): `)

// Splat is a kernel error report found in a console log.
type Splat struct {
	Kind SplatKind
	// Fatal says the run cannot be trusted to have finished normally: a
	// panic, an oops or a lockup.
	Fatal bool
	// Line is the first line of the report, without its timestamp.
	Line string
	// Trace is the excerpt around it: from the "cut here" marker or a few
	// lines before, to the end-of-trace marker or a bounded number of lines.
	Trace string
}

// FindSplats returns every kernel error report in a console log (or a kmsg
// dump) in order, one per distinct first line.
func FindSplats(console []byte) []Splat {
	lines := strings.Split(strings.ReplaceAll(string(console), "\r", ""), "\n")
	var out []Splat
	seen := map[string]bool{}
	lastOops := -oopsLines - 1
	for i, l := range lines {
		text := strings.TrimSpace(timestamp.ReplaceAllString(l, ""))
		bare := subsystem.ReplaceAllString(text, "")
		for _, p := range splatPatterns {
			if !p.re.MatchString(bare) && !p.re.MatchString(text) {
				continue
			}
			// An oops opens with "BUG: kernel NULL pointer dereference"
			// or the like and continues with "Oops: ...": one report.
			sameOops := p.kind == SplatOops && i-lastOops <= oopsLines
			if p.kind == SplatOops {
				lastOops = i
			}
			if !seen[text] && !sameOops {
				seen[text] = true
				out = append(out, Splat{Kind: p.kind, Fatal: p.fatal, Line: text, Trace: traceAround(lines, i)})
			}
			break
		}
	}
	return out
}

// FindSplat returns the first fatal splat of a console log, or nil.
func FindSplat(console []byte) *Splat {
	for _, s := range FindSplats(console) {
		if s.Fatal {
			return &s
		}
	}
	return nil
}

// oopsLines is how far the "Oops:" line of an oops may follow its first line.
const oopsLines = 8

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
