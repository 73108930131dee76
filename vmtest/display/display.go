package display

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/corematrix/corematrix/internal/termtext"
	"github.com/corematrix/corematrix/internal/workflow"
	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest"
)

// Mode selects how progress is shown.
type Mode int

const (
	// Plain prints one line per state change (logs, pipes).
	Plain Mode = iota
	// TTY keeps one line per kernel and redraws them in place.
	TTY
	// GitHub prints plain lines and folds each finished kernel's
	// details into a ::group:: (GitHub Actions log folding).
	GitHub
)

// New returns a vmtest.Progress writing to w for the given kernels. In TTY
// mode, set Width to the terminal's width so that lines never wrap (a wrapped
// line would break the redraw).
func New(w io.Writer, mode Mode, kernels []string) *Display {
	d := &Display{w: w, mode: mode, start: time.Now()}
	for _, k := range kernels {
		d.rows = append(d.rows, &row{name: k, state: vmtest.StateQueued})
	}
	return d
}

// Display is a vmtest.Progress that renders a line per kernel.
type Display struct {
	// Width, when positive, truncates TTY lines to that many columns.
	Width int
	// Annotate, when set, receives the GitHub annotations (workflow
	// commands) of failed kernels instead of the output: a run under a
	// stop-commands token prints them after it resumes.
	Annotate func(command string)

	mu    sync.Mutex
	w     io.Writer
	mode  Mode
	start time.Time
	rows  []*row
	drawn int
	stop  chan struct{}
}

type row struct {
	name    string
	state   vmtest.State
	since   time.Time
	started time.Time
	result  *report.KernelResult
}

// Update implements vmtest.Progress.
func (d *Display) Update(i int, kernel string, state vmtest.State, r *report.KernelResult) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i < 0 || i >= len(d.rows) {
		return
	}
	rw := d.rows[i]
	if rw.state == state && state != vmtest.StateDone {
		return
	}
	now := time.Now()
	if rw.started.IsZero() && state != vmtest.StateQueued {
		rw.started = now
	}
	rw.state, rw.since, rw.result = state, now, r
	tail := ""
	if state == vmtest.StateDone && r != nil && !r.Outcome.Passed() {
		tail = tailBlock(r.OutputTail)
	}
	switch d.mode {
	case TTY:
		if tail != "" {
			// The verdict and its tail go above the live lines, where
			// they stay in the scrollback.
			d.above(d.line(rw, now) + "\n" + tail)
		}
		d.redraw()
	case Plain, GitHub:
		if state == vmtest.StateQueued {
			return
		}
		fmt.Fprintln(d.w, d.line(rw, now))
		if d.mode == Plain {
			io.WriteString(d.w, tail)
		}
		if state == vmtest.StateDone && d.mode == GitHub && r != nil {
			d.group(rw, r)
		}
	}
}

// tailBlock renders the end of a failed kernel's output, indented, with
// control characters made visible (they must not drive the terminal).
func tailBlock(tail string) string {
	if tail == "" {
		return ""
	}
	var b strings.Builder
	for l := range strings.SplitSeq(strings.TrimRight(tail, "\n"), "\n") {
		b.WriteString("    | ")
		for _, c := range strings.TrimRight(l, "\r") {
			if c < 0x20 && c != '\t' || c == 0x7f || c >= 0x80 && c < 0xa0 {
				fmt.Fprintf(&b, "\\x%02x", c)
				continue
			}
			b.WriteRune(c)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// above prints text above the live lines and redraws them below it.
func (d *Display) above(text string) {
	if d.drawn > 0 {
		fmt.Fprintf(d.w, "\x1b[%dA\r\x1b[J", d.drawn)
		d.drawn = 0
	}
	io.WriteString(d.w, text)
}

// Start redraws the TTY display every second (elapsed times tick) until Stop.
func (d *Display) Start() {
	if d.mode != TTY {
		return
	}
	d.mu.Lock()
	d.stop = make(chan struct{})
	stop := d.stop
	d.redraw()
	d.mu.Unlock()
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d.mu.Lock()
				d.redraw()
				d.mu.Unlock()
			}
		}
	}()
}

// Stop ends the redraw loop and leaves the final lines on screen.
func (d *Display) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stop != nil {
		close(d.stop)
		d.stop = nil
		d.redraw()
	}
}

func (d *Display) redraw() {
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", d.drawn) // cursor up
	}
	now := time.Now()
	for _, rw := range d.rows {
		b.WriteString("\r\x1b[2K") // clear line
		b.WriteString(truncate(d.line(rw, now), d.Width-1))
		b.WriteByte('\n')
	}
	d.drawn = len(d.rows)
	io.WriteString(d.w, b.String())
}

func (d *Display) line(rw *row, now time.Time) string {
	width := 0
	for _, r := range d.rows {
		width = max(width, len(r.name))
	}
	elapsed := time.Duration(0)
	if !rw.started.IsZero() {
		end := now
		if rw.state == vmtest.StateDone {
			end = rw.since
		}
		elapsed = end.Sub(rw.started).Round(100 * time.Millisecond)
	}
	status := string(rw.state)
	if rw.state == vmtest.StateDone && rw.result != nil {
		status = fmt.Sprintf("%s %s", rw.result.Outcome.Emoji(), rw.result.Outcome)
		if rw.result.Reason != "" {
			status += ": " + termtext.Line(rw.result.Reason) // may quote a server or guest
		}
	}
	if rw.state == vmtest.StateQueued {
		return fmt.Sprintf("%-*s  %s", width, rw.name, status)
	}
	return fmt.Sprintf("%-*s  %7s  %s", width, rw.name, elapsed, status)
}

// group prints a finished kernel's details folded for GitHub Actions. The
// run is under a stop-commands token (workflow.Guard), so the fold is
// written as the runner itself writes one ("##[group]"), guest text is
// neutralised line by line, and the annotations go to Annotate (printed
// after the token is resumed).
func (d *Display) group(rw *row, r *report.KernelResult) {
	line := func(s string) string { return workflow.Neutral(termtext.Line(s)) }
	block := func(s string) string { return workflow.Neutral(termtext.Strip(s, true)) }
	fmt.Fprintf(d.w, "##[group]%s: %s (%s)\n", line(rw.name), r.Outcome, line(r.Reason))
	fmt.Fprintf(d.w, "release %s, accel %s, boot %.1fs, payload %.1fs, total %.1fs, exit code %d\n",
		line(r.Kernel.Release), r.Accel, r.Timings.Boot, r.Timings.Payload, r.Timings.Total, r.ExitCode)
	for _, t := range r.Tests {
		if t.Status != "pass" {
			fmt.Fprintf(d.w, "--- %s: %s\n%s", strings.ToUpper(t.Status), line(t.Name), block(t.Output))
		}
	}
	if r.Trace != "" {
		fmt.Fprint(d.w, block(r.Trace))
	}
	if len(r.Tests) == 0 && r.OutputTail != "" {
		fmt.Fprintf(d.w, "last lines of the output:\n%s", block(r.OutputTail))
	}
	fmt.Fprintln(d.w, "##[endgroup]")
	for _, a := range Annotations(rw.name, r) {
		if d.Annotate != nil {
			d.Annotate(a)
		} else {
			fmt.Fprintln(d.w, a)
		}
	}
}

// Annotations returns the GitHub Actions workflow commands that annotate a
// kernel's failure: one ::error per failing test (the innermost failing
// subtests, not their parents), titled with the kernel and the test, whose
// message is the test's first failure line; one for the kernel when it
// failed without a failing test. A passing kernel has none.
func Annotations(kernel string, r *report.KernelResult) []string {
	if r.Outcome.Passed() {
		return nil
	}
	var out []string
	// A failing subtest fails its parent (t.Run reports it): a failing
	// test with failing subtests is annotated through them.
	hasFailingChild := report.HasSubtests(failing(r.Tests))
	for _, t := range r.Tests {
		if t.Status != "fail" || hasFailingChild[t.Name] {
			continue
		}
		out = append(out, fmt.Sprintf("::error title=%s::%s",
			escapeProperty(termtext.Line(kernel+" "+t.Name)), escapeData(termtext.Line(t.Name+" on "+kernel+": "+firstFailureLine(t.Output)))))
	}
	if len(out) == 0 {
		out = append(out, fmt.Sprintf("::error title=%s::%s",
			escapeProperty(termtext.Line(kernel+" "+string(r.Outcome))), escapeData(termtext.Line(kernel+": "+r.Reason))))
	}
	return out
}

// firstFailureLine picks the line of a failing test's output that says
// why it failed: a panic's first line; else the first testify assertion
// (its bare "file_test.go:12:" header joined to the "Error:" line that
// follows it); else the test's last log entry ("file_test.go:N: ..."), which
// a t.Fatal ends the test with and a t.Error is usually, where earlier
// entries are often t.Log lines; else the first line that is not test2json
// framing ("=== RUN", "--- FAIL").
func firstFailureLine(output string) string {
	lines := strings.Split(output, "\n")
	for _, l := range lines {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "panic: ") {
			return l
		}
	}
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if !strings.HasSuffix(l, ":") || !logEntry.MatchString(l) {
			continue
		}
		for _, next := range lines[i+1:] {
			next = strings.TrimSpace(next)
			if e, ok := strings.CutPrefix(next, "Error:"); ok {
				return l + " " + strings.TrimSpace(e)
			}
			if logEntry.MatchString(next) {
				break // the next entry: this one was no assertion
			}
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); logEntry.MatchString(l) {
			return l
		}
	}
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "=== ") && !strings.HasPrefix(l, "--- ") {
			return l
		}
	}
	return "failed"
}

// logEntry matches the start of a test's log entry: "file_test.go:12:".
var logEntry = regexp.MustCompile(`^[\w.+-]+\.go:\d+:`)

// escapeData escapes a workflow command's message (the part after "::").
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value, where ":" and
// "," end the value (kernel names such as "deb:bookworm/..." hold colons).
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// truncate cuts s to at most cols terminal columns (emoji count as two).
func truncate(s string, cols int) string {
	if cols <= 0 {
		return s
	}
	w := 0
	for i, r := range s {
		rw := 1
		if r >= 0x2300 && r <= 0x2BFF || r >= 0x1F000 {
			rw = 2
		}
		if w+rw > cols-1 && i < len(s)-len(string(r)) {
			return s[:i] + "…"
		}
		w += rw
	}
	return s
}

// Writer returns an io.Writer for messages that must not break the display
// (warnings, download progress): on a TTY each complete line is printed
// above the live lines, which are then redrawn; otherwise lines pass through.
func (d *Display) Writer() io.Writer { return &aboveWriter{d: d} }

type aboveWriter struct {
	d   *Display
	buf []byte
}

func (a *aboveWriter) Write(p []byte) (int, error) {
	d := a.d
	d.mu.Lock()
	defer d.mu.Unlock()
	a.buf = append(a.buf, p...)
	for {
		i := strings.IndexByte(string(a.buf), '\n')
		if i < 0 {
			break
		}
		line := string(a.buf[:i])
		a.buf = a.buf[i+1:]
		if d.mode != TTY || d.drawn == 0 {
			fmt.Fprintln(d.w, line)
			continue
		}
		fmt.Fprintf(d.w, "\x1b[%dA\r\x1b[2K%s\n", d.drawn, line)
		d.drawn = 0
		d.redraw()
	}
	return len(p), nil
}

// failing returns the tests that failed.
func failing(tests []report.TestResult) []report.TestResult {
	var out []report.TestResult
	for _, t := range tests {
		if t.Status == "fail" {
			out = append(out, t)
		}
	}
	return out
}
