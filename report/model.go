package report

import (
	"sort"
	"strings"
	"time"

	"github.com/corematrix/corematrix/kernel"
)

// Outcome is the verdict of one kernel of the matrix. Exactly one per kernel.
type Outcome string

const (
	// Pass: the guest ran the payload, the result stream was intact, the payload
	// exited 0 and (for Go test payloads) at least one test ran and none failed.
	Pass Outcome = "pass"
	// Fail: the payload ran and reported failure, ran zero tests, or its result
	// stream was missing or corrupt (a missing trailer is never a pass).
	Fail Outcome = "fail"
	// Skip: the payload ran and every test skipped. Counts as a failure for exit codes.
	Skip Outcome = "skip"
	// Panic: the kernel panicked, oopsed (Oops:, general protection fault,
	// BUG: kernel NULL pointer dereference, kernel BUG at) or locked up (soft
	// or hard lockup).
	Panic Outcome = "panic"
	// Timeout: the per-kernel deadline passed; QEMU was killed.
	Timeout Outcome = "timeout"
	// BootFailure: the guest init never spoke.
	BootFailure Outcome = "boot-failure"
	// InfraError: the host could not run the VM (QEMU missing, initramfs, I/O).
	InfraError Outcome = "infra-error"
	// Unavailable: the kernel name could not be resolved to an image.
	Unavailable Outcome = "unavailable"
	// Interrupted: the run was stopped (Ctrl-C, SIGTERM, SIGQUIT) before this
	// kernel's verdict was known; QEMU was stopped.
	Interrupted Outcome = "interrupted"
)

// Passed reports whether the outcome counts as success.
func (o Outcome) Passed() bool { return o == Pass }

// Infrastructure reports whether the outcome is the host's fault rather than the
// kernel's or the payload's (exit code 3 when every failure is of this kind).
func (o Outcome) Infrastructure() bool { return o == InfraError || o == Unavailable }

// TestEvent is one event of a Go test run, in the shape of `go test -json`
// (cmd/test2json): Action is run, pause, cont, pass, fail, skip, output, bench, start.
type TestEvent struct {
	Time    time.Time `json:"Time"`
	Action  string    `json:"Action"`
	Package string    `json:"Package,omitempty"`
	Test    string    `json:"Test,omitempty"`
	Elapsed float64   `json:"Elapsed,omitempty"`
	Output  string    `json:"Output,omitempty"`
}

// TestResult is the verdict of one test (or subtest, "Parent/Child") in one kernel.
type TestResult struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"` // "pass", "fail" or "skip"
	Elapsed float64 `json:"elapsed_seconds"`
	// Output is the test's own output; kept for failures and skips.
	Output string `json:"output,omitempty"`
}

// Timings of one kernel run, in seconds: where a verdict's time went.
type Timings struct {
	// Boot: QEMU start until the guest init's first message.
	Boot float64 `json:"boot_seconds"`
	// Setup: the guest init's first message until the payload started
	// (mounts, lo, rlimits).
	Setup float64 `json:"setup_seconds,omitempty"`
	// Payload: payload start until its trailer.
	Payload float64 `json:"payload_seconds"`
	// PowerOff: the payload's trailer until QEMU exited (facts, kernel log,
	// power-off).
	PowerOff float64 `json:"power_off_seconds,omitempty"`
	// Total: resolve + boot + payload + power-off.
	Total float64 `json:"total_seconds"`
	// QEMUCPU is the CPU time QEMU used (user + system). On a shared host
	// it measures a boot's own work where wall times also measure the load.
	QEMUCPU float64 `json:"qemu_cpu_seconds,omitempty"`
	// Slowest are the top-level tests of a Go test payload that took
	// longest, slowest first (at most SlowestTests).
	Slowest []TestTime `json:"slowest_tests,omitempty"`
}

// SlowestTests is how many tests Timings.Slowest keeps.
const SlowestTests = 5

// TestTime is how long one test took.
type TestTime struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Slowest returns the n top-level tests (no "/" in the name) of tests that
// took longest, slowest first.
func Slowest(tests []TestResult, n int) []TestTime {
	var out []TestTime
	for _, t := range tests {
		if !strings.Contains(t.Name, "/") {
			out = append(out, TestTime{t.Name, t.Elapsed})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seconds > out[j].Seconds })
	return out[:min(n, len(out))]
}

// Facts are what a payload reports about the kernel beyond test verdicts. A
// payload writes them as JSON to the file named by $CM_FACTS inside the guest;
// the runner carries the file back and stores it here.
type Facts struct {
	// Branches lists every CO-RE branch the payload knows, with the one each
	// group took on this kernel.
	Branches []Branch `json:"branches,omitempty"`
	// Programs lists every BPF program the payload tried to load.
	Programs []ProgramStat `json:"programs,omitempty"`
}

// Branch is one side of a CO-RE decision (e.g. group "start_time", name
// "real_start_time", needs "kernel < 5.5").
type Branch struct {
	Group string `json:"group"`
	Name  string `json:"name"`
	// Needs says which kernels take this branch, for the coverage report.
	Needs string `json:"needs,omitempty"`
	Taken bool   `json:"taken"`
	// Synthetic: not taken with the kernel's own BTF, but exercised on this
	// kernel with synthetic BTF (its real types renamed to look like an
	// older kernel's). Never coverage by a real kernel.
	Synthetic bool `json:"synthetic,omitempty"`
}

// ProgramStat is the load verdict and verifier statistics of one BPF program.
type ProgramStat struct {
	Name   string `json:"name"`
	Loaded bool   `json:"loaded"`
	Error  string `json:"error,omitempty"`
	// VerifiedInsns is the number of instructions the verifier processed.
	VerifiedInsns uint32 `json:"verified_insns,omitempty"`
	// LoadMillis is the wall time of the program load (verification included).
	LoadMillis float64 `json:"load_ms,omitempty"`
}

// Prediction is the offline verdict (CO-RE relocations, helpers, kfuncs,
// types and attach targets checked against the kernel's BTF, no boot) of
// whether each program of an object loads on a kernel.
type Prediction struct {
	// Programs maps program name to predicted load success, for the
	// programs whose load the kernel's BTF settles.
	Programs map[string]bool `json:"programs"`
	// Reasons maps program name to why it is predicted to fail.
	Reasons map[string]string `json:"reasons,omitempty"`
	// Unknown maps program name to why its load cannot be predicted (it is
	// then not in Programs).
	Unknown map[string]string `json:"unknown,omitempty"`
	// Attach maps the name of a program not predicted to fail loading to
	// "fails: <reason>" or "unknown: <why>" for attaching it.
	Attach map[string]string `json:"attach,omitempty"`
	// Causes maps the name of a program predicted to fail to the checks
	// that fail it ("core", "helper", "kfunc", "callback", "map_type",
	// "prog_type", "attach_type", "attach_target"), so that the agreement
	// check can tell a failure for another cause.
	Causes map[string][]string `json:"causes,omitempty"`
}

// KernelResult is everything known about one kernel of a run. It is written as
// results.json in the kernel's report directory.
type KernelResult struct {
	Kernel kernel.Kernel `json:"kernel"`
	Accel  string        `json:"accel,omitempty"` // "kvm" or "tcg"
	// Sharing says how the guest got its files and why: the host's shared
	// read-only ("virtiofs (...)", "9p (...)") or packed ("packed: ...").
	Sharing  string  `json:"sharing,omitempty"`
	Outcome  Outcome `json:"outcome"`
	Reason   string  `json:"reason"`
	ExitCode int     `json:"exit_code"` // payload exit code; -1 when unknown
	Timings  Timings `json:"timings"`
	// Trace is the console excerpt for panics (the oops and its call trace)
	// and kernel warnings (the first one).
	Trace string `json:"trace,omitempty"`
	// OutputTail is the end of the payload's output (of the failing tests'
	// output for Go tests), at most TailLines lines; kept for kernels that
	// did not pass. The whole output is <kernel>/output.log.
	OutputTail string `json:"output_tail,omitempty"`
	// Warnings are the first lines of the kernel's non-fatal error reports
	// (WARNING:, RCU stalls, hung tasks, KASAN/KFENCE/UBSAN, other BUG:s).
	Warnings   []string     `json:"warnings,omitempty"`
	Tests      []TestResult `json:"tests,omitempty"`
	Events     []TestEvent  `json:"events,omitempty"`
	Facts      *Facts       `json:"facts,omitempty"`
	Prediction *Prediction  `json:"prediction,omitempty"`
	// Refused are the files the guest sent back for the host that were not
	// written, each with the reason (a path go test did not name, a link
	// in the way, a file that existed before the run). Paths come from the
	// guest: render them as untrusted text.
	Refused []RefusedFile `json:"refused_files,omitempty"`
}

// RefusedFile is a file the guest sent back that the host did not write.
type RefusedFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// TailLines is how many lines of output OutputTail keeps.
const TailLines = 20

// Tail returns the last n lines of text (without a trailing empty line).
func Tail(text string, n int) string {
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if text == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// Summary is a whole run (or a merge of shard runs). It is written as summary.json.
type Summary struct {
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
	Payload  string         `json:"payload,omitempty"`
	Kernels  []KernelResult `json:"kernels"`
	// Args is the offline argument check of the run's core object across
	// its kernels (vmtest run --core-object), nil without one.
	Args *Args `json:"args,omitempty"`
}

// Args is the offline check of the arguments a core object's kprobe,
// kretprobe, fentry and fexit programs read: whether each keeps its type
// across the kernels of the run (see package corereport).
type Args struct {
	// Summary is one line, e.g. "argument types stable across 5.10..latest
	// (6 reads)".
	Summary string `json:"summary"`
	// Drift and Unknown count the reads whose type changes, and those the
	// check cannot judge (target missing from some kernel's BTF, or a use
	// of the context the analysis cannot follow).
	Drift   int `json:"drift"`
	Unknown int `json:"unknown"`
	// Notes explain each drift (with the prototypes) and unknown read.
	Notes []string `json:"notes,omitempty"`
}
