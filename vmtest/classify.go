package vmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest/gotest"
	"github.com/corematrix/corematrix/vmtest/guest"
	"github.com/corematrix/corematrix/vmtest/wire"
)

// Evidence is everything a boot left behind, from which the verdict follows.
type Evidence struct {
	// Console is what the guest wrote to ttyS0.
	Console []byte
	// Results is the raw results stream from ttyS1.
	Results []byte
	// TimedOut is set when the per-kernel deadline killed QEMU.
	TimedOut bool
	// Timeout is the deadline, for the reason text.
	Timeout time.Duration
	// QEMUError is set when QEMU could not run or exited with an error.
	QEMUError error
	// GoTest says the payload is a Go test binary run with -test.v=test2json
	// (or, with PlainTestOutput, with -test.v): its tests are counted.
	GoTest bool
	// PlainTestOutput says a GoTest payload printed plain -test.v output,
	// without the ^V framing.
	PlainTestOutput bool
	// AllowWarnings keeps a run with non-fatal kernel splats (WARNING:, RCU
	// stalls, ...) a pass; they are listed either way.
	AllowWarnings bool
	// MemoryMiB is the guest's memory, for the OOM reason.
	MemoryMiB int
	// Interrupted is set when the run was stopped (Ctrl-C) and QEMU killed.
	Interrupted bool
	// Limit is the budget for what the guest sends (0: wire.DefaultLimit);
	// OverBudget is set to it when QEMU was stopped for exceeding it.
	Limit, OverBudget int64
}

// Verdict is the classification of one boot.
type Verdict struct {
	Outcome  report.Outcome
	Reason   string
	ExitCode int
	Release  string
	Trace    string
	Tests    []report.TestResult
	Events   []report.TestEvent
	Facts    *report.Facts
	// Warnings are the first lines of non-fatal kernel splats.
	Warnings []string
	// Output is the payload's output as received (trusted only when the
	// trailer matched, i.e. Outcome is pass or fail with a known ExitCode).
	Output []byte
	// Files are the file sections the payload sent for the host, all intact.
	Files []*wire.Received
	// stream is the parsed results stream (parsed once per boot).
	stream *wire.Stream
}

// initDied is the panic message of a kernel whose PID 1 exited.
const initDied = "Attempted to kill init!"

// Classify turns the evidence of one boot into exactly one outcome with a
// one-line reason. A fatal kernel splat (panic, oops, lockup) wins over
// everything (except the panic that follows the death of the guest init,
// which is a failure: the init owed a verdict and none came); then an
// interruption before the payload's trailer; then the deadline; then a guest
// init that sent nothing the host understood (the console says whether the
// kernel ran: a results stream that did arrive always wins over it); then a missing or mismatching trailer (a failure,
// never a pass); then the payload's own verdict, with deaths by signal and by
// the OOM killer named. A non-fatal splat (WARNING:, RCU stall, hung task,
// KASAN, ...) turns a pass into a failure unless AllowWarnings; either way it
// is listed in Warnings.
func Classify(ev Evidence) Verdict {
	if ev.Limit <= 0 {
		ev.Limit = wire.DefaultLimit
	}
	st := wire.ParseLimit(ev.Results, ev.Limit)
	v := Verdict{ExitCode: -1, Release: st.Release, stream: st}
	payload := st.Section(wire.SectionPayload)
	if payload != nil {
		v.Output = payload.Data
	}

	var kmsg []byte
	if k := st.Section(wire.SectionKmsg); k != nil && k.Err == nil {
		kmsg = k.Data
	}
	splats := findSplats(ev.Console, kmsg)
	var splat, warning *Splat
	for i := range splats {
		switch {
		case splats[i].Fatal && splat == nil:
			splat = &splats[i]
		case !splats[i].Fatal:
			v.Warnings = append(v.Warnings, splats[i].Line)
			if warning == nil {
				warning = &splats[i]
			}
		}
	}
	if splat != nil && strings.Contains(splat.Line, initDied) {
		// The kernel panics because PID 1 exited: the guest init died (it was
		// killed, or crashed) and the verdict it owed never came.
		v.Outcome, v.Trace = report.Fail, splat.Trace
		v.Reason = "the guest init died before its verdict (" + splat.Line + ")"
		return v
	}
	if splat != nil {
		v.Outcome, v.Reason, v.Trace = report.Panic, splat.Line, splat.Trace
		if payload != nil && payload.Err == nil && payload.InitError == "" {
			v.ExitCode = payload.Exit
		}
		return v
	}
	if warning != nil {
		// Kept whatever the outcome: a hung task or an RCU stall often
		// explains a timeout.
		v.Trace = warning.Trace
	}
	classifyPayload(&v, ev, st, payload, kmsg)
	if warning != nil && v.Outcome.Passed() && !ev.AllowWarnings {
		// The kernel's report is the finding; the payload's own verdict
		// follows so that no one blames the test.
		v.Outcome, v.Reason = report.Fail, fmt.Sprintf("kernel warning: %s (the kernel reported it; the payload itself passed: %s)", shortSource(warning.Line), v.Reason)
	}
	return v
}

// findSplats returns the splats of the console followed by those only the
// kernel log dump has (the console may be quieter than the log buffer: at
// the quiet log level it shows a UBSAN report's first lines but not its
// call trace, which then comes from the dump).
func findSplats(console, kmsg []byte) []Splat {
	splats := FindSplats(console)
	seen := map[string]int{}
	for i, s := range splats {
		seen[s.Line] = i
	}
	for _, s := range FindSplats(kmsg) {
		i, ok := seen[s.Line]
		switch {
		case !ok:
			splats = append(splats, s)
		case strings.Count(s.Trace, "\n") > strings.Count(splats[i].Trace, "\n"):
			splats[i].Trace = s.Trace
		}
	}
	return splats
}

// buildDir matches the build directory a distribution's kernel names its
// sources by (/build/reproducible-path/linux-7.3.4/).
var buildDir = regexp.MustCompile(`/\S*?/linux-[0-9][^/\s]*/`)

// shortSource drops the build directory from the source paths of a splat
// line: "UBSAN: shift-out-of-bounds in kernel/bpf/inode.c:756:15".
func shortSource(line string) string { return buildDir.ReplaceAllString(line, "") }

// classifyPayload judges a boot without fatal splats: the deadline, a silent
// init, a broken result stream, then the payload's own verdict, the death
// that ended it, the files it wrote for the host and its facts.
func classifyPayload(v *Verdict, ev Evidence, st *wire.Stream, payload *wire.Received, kmsg []byte) {
	if o, reason, ok := unfinished(ev, st, payload); ok {
		v.Outcome, v.Reason = o, reason
		return
	}
	v.ExitCode = payload.Exit
	explained := false
	switch {
	case ev.GoTest && ev.PlainTestOutput:
		explained = classifyGoTest(v, gotest.Frame(payload.Data))
	case ev.GoTest:
		explained = classifyGoTest(v, payload.Data)
	case v.ExitCode == 0:
		v.Outcome, v.Reason = report.Pass, "payload exited 0"
	default:
		v.Outcome, v.Reason = report.Fail, fmt.Sprintf("payload exited %d", v.ExitCode)
	}
	if death := deathReason(v.ExitCode, ev.MemoryMiB, ev.Console, kmsg); death != "" {
		switch {
		case !signalExit(v.ExitCode):
			v.Reason += " (" + death + ")"
		case !explained:
			// Nothing but the death says why the payload ended.
			v.Outcome, v.Reason = report.Fail, death
		default:
			v.Reason += "; " + death
		}
	}
	collectFiles(v, st)
	if f := st.Section(wire.SectionFacts); f != nil {
		if err := decodeFacts(f, v); err != nil && v.Outcome.Passed() {
			v.Outcome, v.Reason = report.Fail, err.Error()
		}
	}
}

// unfinished returns the verdict of a boot whose payload has no verdict of
// its own (interrupted, timed out, the guest init silent or stopped early,
// a broken result stream), and false for a payload that finished with its
// trailer intact.
func unfinished(ev Evidence, st *wire.Stream, payload *wire.Received) (report.Outcome, string, bool) {
	switch {
	case ev.Interrupted && (payload == nil || payload.Err != nil):
		return report.Interrupted, interruptedReason(st, payload), true
	case ev.OverBudget > 0 || st.OverBudget != nil:
		reason := (&wire.BudgetError{Limit: ev.Limit}).Error()
		if ev.OverBudget > 0 {
			reason += "; QEMU stopped"
		}
		return report.Fail, reason + " (raise it with --guest-output-limit)", true
	case ev.TimedOut:
		return report.Timeout, timeoutReason(ev, st, payload), true
	case !spoke(st) && ev.QEMUError != nil:
		return report.InfraError, ev.QEMUError.Error(), true
	case !spoke(st) && !kernelRan.Match(ev.Console):
		return report.BootFailure, "the kernel never started (no kernel message on the console)", true
	case !spoke(st):
		return report.BootFailure, "the guest init never spoke; console ends: " + lastLine(ev.Console), true
	case payload == nil:
		reason := "the guest init stopped before running the payload"
		if len(st.Errors) > 0 {
			reason += ": " + st.Errors[0]
		}
		return report.Fail, reason, true
	case payload.Err != nil:
		reason := "result stream cannot be trusted: " + payload.Err.Error()
		if ev.QEMUError != nil {
			reason += " (" + ev.QEMUError.Error() + ")"
		}
		return report.Fail, reason, true
	case payload.InitError != "":
		return report.Fail, "guest init: " + payload.InitError, true
	}
	return "", "", false
}

// spoke reports whether the guest init wrote anything to the results port
// that the host understood: its hello, a section, an error or the stream's
// end. Only a stream with none of them lets the console say how far the
// boot came; a stream that lost its hello line but holds sections whose
// trailers match came from a running init.
func spoke(st *wire.Stream) bool {
	return st.Hello || st.Done || len(st.Sections) > 0 || len(st.Errors) > 0
}

// kernelRan matches what only a running kernel puts on the console: its
// banner (amd64's earlyprintk shows it), a timestamped log line, or the
// guest init's first line. An arm64 guest's quiet console shows no banner
// ("corematrix: guest init started" and "reboot: Power down" after a good
// boot), so the banner alone called an arm64 boot that sent no hello
// "never started".
var kernelRan = regexp.MustCompile(`(?m)Linux version |^\[\s*\d+\.\d+\] |` + regexp.QuoteMeta(guest.StartedLine))

// interruptedReason says how far a run stopped by the user had come.
func interruptedReason(st *wire.Stream, payload *wire.Received) string {
	switch {
	case !spoke(st):
		return "interrupted while the kernel was booting; QEMU stopped"
	case payload == nil:
		return "interrupted before the payload started; QEMU stopped"
	}
	return fmt.Sprintf("interrupted while the payload was running (after %d bytes of output); QEMU stopped", len(payload.Data))
}

// timeoutReason says how far a run killed at its deadline had come.
func timeoutReason(ev Evidence, st *wire.Stream, payload *wire.Received) string {
	switch {
	case !spoke(st):
		return fmt.Sprintf("no verdict within %s (the guest init never spoke); QEMU killed", ev.Timeout)
	case payload != nil && payload.Err != nil:
		return fmt.Sprintf("no verdict within %s (payload still running after %d bytes of output); QEMU killed", ev.Timeout, len(payload.Data))
	case payload != nil && payload.InitError == "" && st.Done:
		// The deadline struck while the guest powered off.
		return fmt.Sprintf("the payload exited %d but the guest did not power off within %s; QEMU killed", payload.Exit, ev.Timeout)
	}
	return fmt.Sprintf("no verdict within %s; QEMU killed", ev.Timeout)
}

// collectFiles keeps the file sections the payload sent for the host in v;
// one that cannot be trusted drops them all and fails a passing run.
func collectFiles(v *Verdict, st *wire.Stream) {
	for _, f := range st.Sections {
		if f.Name != wire.SectionFile {
			continue
		}
		if err := fileError(f); err != nil {
			if v.Outcome.Passed() {
				v.Outcome, v.Reason = report.Fail, err.Error()
			}
			v.Files = nil
			return
		}
		v.Files = append(v.Files, f)
	}
}

// noTests is what the testing package prints when no test matched.
const noTests = "testing: warning: no tests to run\n"

// endsInPass reports whether a test binary's last line is its PASS (framed
// by test2json's ^V marker or not).
func endsInPass(out []byte) bool {
	out = bytes.TrimRight(out, "\r\n")
	last := out[bytes.LastIndexByte(out, '\n')+1:]
	return string(bytes.TrimLeft(last, "\x16")) == "PASS"
}

// classifyGoTest judges a Go test binary's run from its test2json output.
// It reports whether the tests account for the exit code (a test failed,
// or they passed or skipped); false when no test ran or the binary exited
// non-zero with no test failed, where only a death can say why.
func classifyGoTest(v *Verdict, out []byte) (explained bool) {
	r := gotest.Parse(out)
	v.Tests, v.Events = r.Tests, r.Events
	pass, fail, skip := r.Counts()
	total := pass + fail + skip
	switch {
	case total == 0 && v.ExitCode == 0 && endsInPass(out) && bytes.Contains(out, []byte(noTests)):
		// A package whose tests all are examples without output, or a
		// -run matching nothing: go test says "ok [no tests to run]".
		v.Outcome, v.Reason = report.Pass, "no tests to run (the test binary said so and passed, as go test reports it)"
	case total == 0:
		v.Outcome, v.Reason = report.Fail, fmt.Sprintf("no tests ran (payload exited %d)", v.ExitCode)
		return false
	case fail > 0:
		var names []string
		for _, t := range r.Tests {
			if t.Status == "fail" && !strings.Contains(t.Name, "/") {
				names = append(names, t.Name)
			}
		}
		v.Outcome, v.Reason = report.Fail, fmt.Sprintf("%d of %d tests failed: %s", fail, total, strings.Join(names, ", "))
	case v.ExitCode != 0:
		v.Outcome, v.Reason = report.Fail, fmt.Sprintf("payload exited %d although no test failed", v.ExitCode)
		return false
	case r.Final != "pass":
		v.Outcome, v.Reason = report.Fail, "the test binary did not report PASS"
	case skip == total:
		v.Outcome, v.Reason = report.Skip, fmt.Sprintf("all %d tests skipped", total)
	default:
		v.Outcome, v.Reason = report.Pass, fmt.Sprintf("%d %s passed, %d skipped", pass, plural(pass, "test"), skip)
	}
	return true
}

// plural returns noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// fileError says why a file the payload wrote for the host cannot be used.
func fileError(f *wire.Received) error {
	switch {
	case f.Err != nil:
		return fmt.Errorf("file %s for the host cannot be trusted: %w", f.Path, f.Err)
	case f.InitError != "":
		return fmt.Errorf("file %s for the host: %s", f.Path, f.InitError)
	case f.Path == "" || !strings.HasPrefix(f.Path, "/"):
		return fmt.Errorf("file section with a bad path %q", f.Path)
	}
	return nil
}

func decodeFacts(f *wire.Received, v *Verdict) error {
	if f.Err != nil {
		return fmt.Errorf("facts cannot be trusted: %w", f.Err)
	}
	if f.InitError != "" {
		return fmt.Errorf("facts: %s", f.InitError)
	}
	var facts report.Facts
	if err := json.Unmarshal(f.Data, &facts); err != nil {
		return fmt.Errorf("payload wrote invalid facts: %w", err)
	}
	v.Facts = &facts
	return nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(b), "\r", "")), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if len(l) > 160 {
		l = l[:160]
	}
	if l == "" {
		return "(empty)"
	}
	return fmt.Sprintf("%q", l)
}
