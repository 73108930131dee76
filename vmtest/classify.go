package vmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest/gotest"
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
	// GoTest says the payload is a Go test binary run with -test.v=test2json.
	GoTest bool
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
// init that never spoke; then a missing or mismatching trailer (a failure,
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
		v.Outcome, v.Reason = report.Fail, "kernel warning: "+warning.Line
	}
	return v
}

// findSplats returns the splats of the console followed by those only the
// kernel log dump has (the console may be quieter than the log buffer).
func findSplats(console, kmsg []byte) []Splat {
	splats := FindSplats(console)
	seen := map[string]bool{}
	for _, s := range splats {
		seen[s.Line] = true
	}
	for _, s := range FindSplats(kmsg) {
		if !seen[s.Line] {
			splats = append(splats, s)
		}
	}
	return splats
}

// classifyPayload judges a boot without fatal splats: the deadline, a silent
// init, a broken result stream, then the payload's own verdict.
func classifyPayload(v *Verdict, ev Evidence, st *wire.Stream, payload *wire.Received, kmsg []byte) {
	if ev.Interrupted && (payload == nil || payload.Err != nil) {
		v.Outcome = report.Interrupted
		switch {
		case !st.Hello:
			v.Reason = "interrupted while the kernel was booting; QEMU stopped"
		case payload == nil:
			v.Reason = "interrupted before the payload started; QEMU stopped"
		default:
			v.Reason = fmt.Sprintf("interrupted while the payload was running (after %d bytes of output); QEMU stopped", len(payload.Data))
		}
		return
	}

	if ev.OverBudget > 0 || st.OverBudget != nil {
		v.Outcome = report.Fail
		v.Reason = (&wire.BudgetError{Limit: ev.Limit}).Error()
		if ev.OverBudget > 0 {
			v.Reason += "; QEMU stopped"
		}
		v.Reason += " (raise it with --guest-output-limit)"
		return
	}

	if ev.TimedOut {
		v.Outcome = report.Timeout
		switch {
		case !st.Hello:
			v.Reason = fmt.Sprintf("no verdict within %s (the guest init never spoke); QEMU killed", ev.Timeout)
		case payload != nil && payload.Err != nil:
			v.Reason = fmt.Sprintf("no verdict within %s (payload still running after %d bytes of output); QEMU killed", ev.Timeout, len(payload.Data))
		default:
			v.Reason = fmt.Sprintf("no verdict within %s; QEMU killed", ev.Timeout)
		}
		return
	}

	if !st.Hello {
		if ev.QEMUError != nil {
			v.Outcome, v.Reason = report.InfraError, ev.QEMUError.Error()
			return
		}
		v.Outcome = report.BootFailure
		if !bytes.Contains(ev.Console, []byte("Linux version")) {
			v.Reason = "the kernel never started (no \"Linux version\" on the console)"
		} else {
			v.Reason = "the guest init never spoke; console ends: " + lastLine(ev.Console)
		}
		return
	}

	if payload == nil {
		v.Outcome = report.Fail
		v.Reason = "the guest init stopped before running the payload"
		if len(st.Errors) > 0 {
			v.Reason += ": " + st.Errors[0]
		}
		return
	}
	if payload.Err != nil {
		v.Outcome = report.Fail
		v.Reason = "result stream cannot be trusted: " + payload.Err.Error()
		if ev.QEMUError != nil {
			v.Reason += " (" + ev.QEMUError.Error() + ")"
		}
		return
	}
	if payload.InitError != "" {
		v.Outcome, v.Reason = report.Fail, "guest init: "+payload.InitError
		return
	}
	v.ExitCode = payload.Exit

	if ev.GoTest {
		classifyGoTest(v, payload.Data)
	} else if v.ExitCode == 0 {
		v.Outcome, v.Reason = report.Pass, "payload exited 0"
	} else {
		v.Outcome, v.Reason = report.Fail, fmt.Sprintf("payload exited %d", v.ExitCode)
	}
	if death := deathReason(v.ExitCode, ev.MemoryMiB, ev.Console, kmsg); death != "" {
		testsSilent := v.Reason == fmt.Sprintf("payload exited %d although no test failed", v.ExitCode) ||
			strings.HasPrefix(v.Reason, "no tests ran")
		switch {
		case !signalExit(v.ExitCode):
			v.Reason += " (" + death + ")"
		case !ev.GoTest || testsSilent:
			v.Outcome, v.Reason = report.Fail, death
		default:
			v.Reason += "; " + death
		}
	}

	for _, f := range st.Sections {
		if f.Name != wire.SectionFile {
			continue
		}
		if err := fileError(f); err != nil {
			if v.Outcome.Passed() {
				v.Outcome, v.Reason = report.Fail, err.Error()
			}
			v.Files = nil
			break
		}
		v.Files = append(v.Files, f)
	}

	if f := st.Section(wire.SectionFacts); f != nil {
		if err := decodeFacts(f, v); err != nil && v.Outcome.Passed() {
			v.Outcome, v.Reason = report.Fail, err.Error()
		}
	}
}

func classifyGoTest(v *Verdict, out []byte) {
	r := gotest.Parse(out)
	v.Tests, v.Events = r.Tests, r.Events
	pass, fail, skip := r.Counts()
	total := pass + fail + skip
	switch {
	case total == 0:
		v.Outcome, v.Reason = report.Fail, fmt.Sprintf("no tests ran (payload exited %d)", v.ExitCode)
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
	case r.Final != "pass":
		v.Outcome, v.Reason = report.Fail, "the test binary did not report PASS"
	case skip == total:
		v.Outcome, v.Reason = report.Skip, fmt.Sprintf("all %d tests skipped", total)
	default:
		v.Outcome, v.Reason = report.Pass, fmt.Sprintf("%d %s passed, %d skipped", pass, plural(pass, "test"), skip)
	}
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
