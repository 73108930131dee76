package vmtest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest/wire"
)

func recorded(t *testing.T, name string) Evidence {
	t.Helper()
	console, err := os.ReadFile(filepath.Join("testdata", name, ConsoleFile))
	require.NoError(t, err)
	results, err := os.ReadFile(filepath.Join("testdata", name, ResultsFile))
	require.NoError(t, err)
	return Evidence{Console: console, Results: results, Timeout: time.Minute}
}

// TestClassifyRecorded classifies real console logs and result streams
// recorded from boots of the Debian 6.1 kernel (see testdata/README.md).
func TestClassifyRecorded(t *testing.T) {
	tests := []struct {
		dir     string
		mod     func(*Evidence)
		outcome report.Outcome
		reason  string // substring
		exit    int
		trace   string // substring of the kept trace, "" for none
	}{
		{dir: "clean", outcome: report.Pass, reason: "payload exited 0", exit: 0},
		{dir: "warn", outcome: report.Fail, reason: "kernel warning: WARNING: CPU: 0 PID: 90 at kernel/sched/debug.c:1076 resched_latency_warn+0x54/0x60", exit: 0, trace: "bpf_test_run"},
		{dir: "warn", mod: func(e *Evidence) { e.AllowWarnings = true }, outcome: report.Pass, reason: "payload exited 0", exit: 0, trace: "resched_latency_warn"},
		{dir: "oom", mod: func(e *Evidence) { e.MemoryMiB = 1024 }, outcome: report.Fail, reason: "payload killed by the OOM killer (guest memory 1024 MiB; raise --memory)", exit: 137},
		{dir: "segv", outcome: report.Fail, reason: "payload killed by SIGSEGV", exit: 139},
		{dir: "hung", outcome: report.Fail, reason: "kernel warning: INFO: task fault:97 blocked for more than 1 seconds.", exit: 0, trace: "hung_task_timeout_secs"},
		{dir: "exit-3", outcome: report.Fail, reason: "payload exited 3", exit: 3},
		{dir: "panic-sysrq", outcome: report.Panic, reason: "Kernel panic - not syncing: sysrq triggered crash", exit: -1, trace: "sysrq_handle_crash"},
		{dir: "softlockup", outcome: report.Panic, reason: "watchdog: BUG: soft lockup - CPU#0 stuck for 45s! [lockup:90]", exit: -1, trace: "bpf_prog_"},
		{dir: "init-killed", outcome: report.Fail, reason: "the guest init died before its verdict (Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000200)", exit: -1, trace: "do_exit"},
		{dir: "poweroff-before-trailer", outcome: report.Fail, reason: "result stream cannot be trusted: payload: no trailer after", exit: -1},
		{dir: "results-wrecked", outcome: report.Fail, reason: "payload trailer mismatch: trailer says 27 bytes, received 35", exit: -1},
		{dir: "hang", mod: func(e *Evidence) { e.TimedOut, e.Timeout = true, 15*time.Second }, outcome: report.Timeout, reason: "no verdict within 15s (payload still running after 20 bytes of output); QEMU killed", exit: -1},
		// Ctrl-C: while the payload runs it is interrupted (not a boot
		// problem); after its trailer the verdict stands.
		{dir: "hang", mod: func(e *Evidence) { e.Interrupted = true }, outcome: report.Interrupted, reason: "interrupted while the payload was running (after 20 bytes of output); QEMU stopped", exit: -1},
		{dir: "kvm-hang", mod: func(e *Evidence) { e.Interrupted = true }, outcome: report.Interrupted, reason: "interrupted while the kernel was booting; QEMU stopped", exit: -1},
		{dir: "exit-3", mod: func(e *Evidence) { e.Interrupted = true }, outcome: report.Fail, reason: "payload exited 3", exit: 3},
		{dir: "kvm-hang", mod: func(e *Evidence) { e.TimedOut = true }, outcome: report.Timeout, reason: "the guest init never spoke", exit: -1},
		// Had QEMU exited by itself with this console, the kernel never ran.
		{dir: "kvm-hang", outcome: report.BootFailure, reason: "the kernel never started (no kernel message on the console)", exit: -1},
		{dir: "kvm-hang", mod: func(e *Evidence) { e.QEMUError = errors.New("qemu: exit status 1: could not load kernel") }, outcome: report.InfraError, reason: "could not load kernel", exit: -1},
		// The kernel booted but the results port stayed silent.
		{dir: "clean", mod: func(e *Evidence) { e.Results = nil }, outcome: report.BootFailure, reason: `the guest init never spoke; console ends: "[    2.105761] reboot: Power down"`, exit: -1},
		{dir: "gotest", mod: func(e *Evidence) { e.GoTest = true }, outcome: report.Fail, reason: "2 of 8 tests failed: TestFails, TestSub", exit: 1},
		// A plain payload that printed no tests is judged by its exit code
		// only; as a Go test payload, zero tests is a failure.
		{dir: "clean", mod: func(e *Evidence) { e.GoTest = true }, outcome: report.Fail, reason: "no tests ran (payload exited 0)", exit: 0},
	}
	for _, tt := range tests {
		t.Run(tt.dir+"/"+string(tt.outcome), func(t *testing.T) {
			ev := recorded(t, tt.dir)
			if tt.mod != nil {
				tt.mod(&ev)
			}
			v := Classify(ev)
			require.Equal(t, tt.outcome, v.Outcome, "reason %q", v.Reason)
			require.Contains(t, v.Reason, tt.reason)
			require.Equal(t, tt.exit, v.ExitCode)
			if tt.trace == "" {
				require.Empty(t, v.Trace)
			} else {
				require.Contains(t, v.Trace, tt.trace)
			}
		})
	}
}

func TestClassifyReleaseAndTests(t *testing.T) {
	ev := recorded(t, "gotest")
	ev.GoTest = true
	v := Classify(ev)
	require.Equal(t, "6.1.0-50-cloud-amd64", v.Release)
	require.Len(t, v.Tests, 11)
	require.NotEmpty(t, v.Events)
}

func TestFindSplatClean(t *testing.T) {
	for _, dir := range []string{"clean", "exit-3", "hang", "poweroff-before-trailer", "kvm-hang"} {
		ev := recorded(t, dir)
		require.Nil(t, FindSplat(ev.Console), dir)
	}
}

func TestFindSplatTrace(t *testing.T) {
	s := FindSplat(recorded(t, "panic-sysrq").Console)
	require.NotNil(t, s)
	require.Contains(t, s.Trace, "sysrq: Trigger a crash")
	require.Contains(t, s.Trace, "Call Trace:")
	require.Contains(t, s.Trace, "Kernel Offset:")
	require.NotContains(t, s.Trace, "Linux version", "the trace is an excerpt, not the whole log")
}

func TestClassifyFacts(t *testing.T) {
	ev := recorded(t, "clean")
	good := append([]byte(nil), ev.Results...)
	v := Classify(Evidence{Console: ev.Console, Results: withFacts(t, good, `{"programs":[{"name":"p","loaded":true}]}`)})
	require.Equal(t, report.Pass, v.Outcome, v.Reason)
	require.NotNil(t, v.Facts)
	require.Equal(t, "p", v.Facts.Programs[0].Name)

	v = Classify(Evidence{Console: ev.Console, Results: withFacts(t, good, `{"programs":`)})
	require.Equal(t, report.Fail, v.Outcome)
	require.Contains(t, v.Reason, "invalid facts")
}

func TestClassifyWarnings(t *testing.T) {
	v := Classify(recorded(t, "softlockup"))
	require.Equal(t, report.Panic, v.Outcome)
	require.Equal(t, []string{"rcu: INFO: rcu_preempt self-detected stall on CPU"}, v.Warnings)
	v = Classify(recorded(t, "warn"))
	require.Equal(t, []string{"WARNING: CPU: 0 PID: 90 at kernel/sched/debug.c:1076 resched_latency_warn+0x54/0x60"}, v.Warnings)
	require.Empty(t, Classify(recorded(t, "clean")).Warnings)
}

func TestDeathReason(t *testing.T) {
	oom := []byte("[   21.429921] Out of memory: Killed process 91 (fault) total-vm:2181204kB, anon-rss:862808kB\n")
	tests := []struct {
		exit int
		log  []byte
		want string
	}{
		{0, oom, ""},
		{1, nil, ""},
		{137, oom, "payload killed by the OOM killer (guest memory 512 MiB; raise --memory)"},
		{137, nil, "payload killed by SIGKILL"},
		{139, nil, "payload killed by SIGSEGV"},
		{134, nil, "payload killed by SIGABRT"},
		{1, oom, "the OOM killer killed fault (pid 91) (guest memory 512 MiB; raise --memory)"},
		{255, nil, ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, deathReason(tt.exit, 512, tt.log), "exit %d", tt.exit)
	}
}

// TestClassifyNoTestsToRun: a test binary that says it had no tests to run
// and passed is a pass, as go test reports it ("ok [no tests to run]"); zero
// tests without that, or with a non-zero exit, stays a failure.
func TestClassifyNoTestsToRun(t *testing.T) {
	for _, c := range []struct {
		out  string
		exit int
		want report.Outcome
	}{
		{"testing: warning: no tests to run\nPASS\n", 0, report.Pass},
		{"PASS\n", 0, report.Fail},
		{"testing: warning: no tests to run\nPASS\n", 1, report.Fail},
		{"payload says hello\n", 0, report.Fail},
	} {
		v := Verdict{ExitCode: c.exit}
		classifyGoTest(&v, []byte(c.out))
		require.Equal(t, c.want, v.Outcome, "%q exit %d: %s", c.out, c.exit, v.Reason)
	}
}

// arm64Console is what a 6.1/arm64 guest's quiet console holds after a
// good boot (every arm64 console.log of this project's runs looks so): the
// init's first line and the power-off, no "Linux version" banner.
const arm64Console = "corematrix: guest init started\n[    5.692358] reboot: Power down\n"

// stream returns a results stream whose payload printed out and exited
// exit, with the hello line unless hello is false, and the done line.
func stream(t *testing.T, hello bool, out string, exit int) []byte {
	t.Helper()
	var b bytes.Buffer
	w := wire.NewWriter(&b)
	if hello {
		require.NoError(t, w.Hello("6.1.0-50-cloud-arm64"))
	}
	s, err := w.Begin(wire.SectionPayload)
	require.NoError(t, err)
	_, err = s.Write([]byte(out))
	require.NoError(t, err)
	require.NoError(t, s.End(exit, ""))
	require.NoError(t, w.Done())
	return b.Bytes()
}

// TestClassifyCompleteStreamWins: what the results stream proves (sections
// with matching trailers, the done line) wins over guesses from the
// console. An arm64 suite boot was reported "the kernel never started"
// although its results stream was complete: without a parsable hello line
// the verdict fell to the console, and an arm64 console never shows the
// "Linux version" banner the guess looked for.
func TestClassifyCompleteStreamWins(t *testing.T) {
	tests := []struct {
		name    string
		ev      Evidence
		outcome report.Outcome
		reason  string // substring
	}{
		{"hello lost, payload intact", Evidence{Console: []byte(arm64Console), Results: stream(t, false, "ok\n", 0)},
			report.Pass, "payload exited 0"},
		{"hello lost, payload failed", Evidence{Console: nil, Results: stream(t, false, "bad\n", 3)},
			report.Fail, "payload exited 3"},
		{"complete stream, console not written", Evidence{Console: nil, Results: stream(t, true, "ok\n", 0)},
			report.Pass, "payload exited 0"},
		// The kernel ran (its log lines and the init's first line are on
		// the console) but nothing came on the results port.
		{"arm64 console, silent results", Evidence{Console: []byte(arm64Console)},
			report.BootFailure, `the guest init never spoke; console ends: "[    5.692358] reboot: Power down"`},
		// The deadline struck while the guest powered off: the verdict
		// came, the power-off did not.
		{"deadline after the stream ended", Evidence{Console: []byte(arm64Console), Results: stream(t, true, "ok\n", 0), TimedOut: true, Timeout: time.Minute},
			report.Timeout, "the payload exited 0 but the guest did not power off within 1m0s; QEMU killed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Classify(tt.ev)
			require.Equal(t, tt.outcome, v.Outcome, "reason %q", v.Reason)
			require.Contains(t, v.Reason, tt.reason)
		})
	}
}
