package display

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		cols int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer line", 8, "a longe…"},
		{"6.1  ✅ pass: payload exited 0", 10, "6.1  ✅ p…"},
		{"anything", 0, "anything"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, truncate(tt.in, tt.cols), "truncate(%q, %d)", tt.in, tt.cols)
	}
}

func TestPlain(t *testing.T) {
	var b bytes.Buffer
	d := New(&b, Plain, []string{"6.1", "5.10"})
	d.Update(0, "6.1", vmtest.StateQueued, nil)
	d.Update(0, "6.1", vmtest.StateResolving, nil)
	d.Update(0, "6.1", vmtest.StateBooting, nil)
	d.Update(0, "6.1", vmtest.StateBooting, nil) // repeated: no new line
	d.Update(1, "5.10", vmtest.StateResolving, nil)
	d.Update(0, "6.1", vmtest.StateDone, &report.KernelResult{Outcome: report.Panic, Reason: "Kernel panic - not syncing: x"})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 4, "output:\n%s", b.String())
	require.Contains(t, lines[0], "6.1 ")
	require.Contains(t, lines[0], "resolving")
	require.Contains(t, lines[1], "booting")
	require.Contains(t, lines[2], "5.10")
	require.Contains(t, lines[3], "panic: Kernel panic - not syncing: x")
	require.NotContains(t, b.String(), "\x1b[", "no escape sequences off a TTY")
}

func TestGitHub(t *testing.T) {
	var b bytes.Buffer
	var held []string
	d := New(&b, GitHub, []string{"6.1"})
	d.Annotate = func(c string) { held = append(held, c) }
	d.Update(0, "6.1", vmtest.StateDone, &report.KernelResult{Outcome: report.Fail, Reason: "1 of 2 tests failed: TestX\n::error::forged",
		Kernel: kernel.Kernel{Release: "6.1\n::add-mask::x"},
		Tests:  []report.TestResult{{Name: "TestX", Status: "fail", Output: "boom\n::error::from the test\n##[error]legacy\n"}}})
	out := b.String()
	require.Contains(t, out, "##[group]6.1: fail (1 of 2 tests failed: TestX ::error::forged)\n")
	require.Contains(t, out, "release 6.1 ::add-mask::x, accel")
	require.Contains(t, out, "--- FAIL: TestX\nboom\n:\u200b:error::from the test\n##\u200b[error]legacy\n")
	require.Contains(t, out, "##[endgroup]\n")
	for l := range strings.SplitSeq(out, "\n") {
		require.False(t, strings.HasPrefix(strings.TrimSpace(l), "::"), "a line of guest text is a workflow command: %q", l)
	}
	require.Equal(t, []string{"::error title=6.1 TestX::TestX on 6.1: boom"}, held, "annotations go to Annotate")
}

func TestAnnotations(t *testing.T) {
	r := &report.KernelResult{Outcome: report.Fail, Tests: []report.TestResult{
		{Name: "TestA", Status: "fail", Output: "=== RUN   TestA\n"},
		{Name: "TestA/sub", Status: "fail", Output: "    a_test.go:12: \n        \tError Trace:\ta_test.go:12\n        \tError:      \tNot equal: 50% done\n--- FAIL: TestA/sub (0.00s)\n"},
		{Name: "TestB", Status: "fail", Output: "    b_test.go:3: line one\r\n    line two\n"},
		{Name: "TestC", Status: "pass"},
		{Name: "TestD", Status: "fail", Output: "    d_test.go:5: starting\n    d_test.go:6: value 3\n    d_test.go:9: want 4, got 3\n--- FAIL: TestD (0.00s)\n"},
		{Name: "TestE", Status: "fail", Output: "    e_test.go:5: log before\n    e_test.go:7: \n        \tError Trace:\te_test.go:7\n        \tError:      \tShould be true\n    e_test.go:8: log after\n"},
	}}
	require.Equal(t, []string{
		"::error title=deb%3Abookworm/linux-image-6.1.0-50-cloud-amd64 TestA/sub::TestA/sub on deb:bookworm/linux-image-6.1.0-50-cloud-amd64: a_test.go:12: Not equal: 50%25 done",
		"::error title=deb%3Abookworm/linux-image-6.1.0-50-cloud-amd64 TestB::TestB on deb:bookworm/linux-image-6.1.0-50-cloud-amd64: b_test.go:3: line one",
		"::error title=deb%3Abookworm/linux-image-6.1.0-50-cloud-amd64 TestD::TestD on deb:bookworm/linux-image-6.1.0-50-cloud-amd64: d_test.go:9: want 4, got 3",
		"::error title=deb%3Abookworm/linux-image-6.1.0-50-cloud-amd64 TestE::TestE on deb:bookworm/linux-image-6.1.0-50-cloud-amd64: e_test.go:7: Should be true",
	}, Annotations("deb:bookworm/linux-image-6.1.0-50-cloud-amd64", r))

	panicked := &report.KernelResult{Outcome: report.Panic, Reason: "Kernel panic - not syncing: a, b\nc"}
	require.Equal(t, []string{"::error title=5.10%2C6.1 panic::5.10,6.1: Kernel panic - not syncing: a, b c"},
		Annotations("5.10,6.1", panicked))
	require.Nil(t, Annotations("6.1", &report.KernelResult{Outcome: report.Pass}))
}

func TestTTYRedraw(t *testing.T) {
	var b bytes.Buffer
	d := New(&b, TTY, []string{"6.1", "5.10"})
	d.Width = 20
	d.Update(0, "6.1", vmtest.StateBooting, nil)
	b.Reset()
	d.Update(1, "5.10", vmtest.StateDone, &report.KernelResult{Outcome: report.Pass, Reason: "a reason far too long for twenty columns"})
	out := b.String()
	require.True(t, strings.HasPrefix(out, "\x1b[2A"), "redraw moves up over both lines: %q", out)
	for l := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		l = l[strings.LastIndex(l, "\x1b[2K")+len("\x1b[2K"):]
		require.LessOrEqual(t, utf8.RuneCountInString(l), 19, "line %q wraps", l)
	}
}

func TestProgressWriterAbove(t *testing.T) {
	var b bytes.Buffer
	d := New(&b, TTY, []string{"6.1", "5.10"})
	d.Update(0, "6.1", vmtest.StateBooting, nil)
	b.Reset()
	w := d.Writer()
	w.Write([]byte("vmtest: warning: "))
	require.Empty(t, b.String(), "partial lines wait")
	w.Write([]byte("KVM is not usable\n"))
	out := b.String()
	require.True(t, strings.HasPrefix(out, "\x1b[2A\r\x1b[2Kvmtest: warning: KVM is not usable\n"), "%q", out)
	require.Equal(t, 2, strings.Count(out, "\x1b[2K")-1, "both live lines redrawn below: %q", out)

	b.Reset()
	p := New(&b, Plain, []string{"6.1"})
	p.Writer().Write([]byte("a\nb\n"))
	require.Equal(t, "a\nb\n", b.String())
}

func TestProgressFailureTail(t *testing.T) {
	var b bytes.Buffer
	d := New(&b, Plain, []string{"6.1"})
	d.Update(0, "6.1", vmtest.StateDone, &report.KernelResult{Outcome: report.Fail, Reason: "payload exited 1",
		OutputTail: "step 1\nstep 2: \x1b[31mred\x1b[0m failed\n"})
	require.Contains(t, b.String(), "fail: payload exited 1\n    | step 1\n    | step 2: \\x1b[31mred\\x1b[0m failed\n")

	b.Reset()
	d = New(&b, Plain, []string{"6.1"})
	d.Update(0, "6.1", vmtest.StateDone, &report.KernelResult{Outcome: report.Pass, Reason: "payload exited 0", OutputTail: "kept only for failures\n"})
	require.NotContains(t, b.String(), "|")

	b.Reset()
	d = New(&b, TTY, []string{"6.1", "5.10"})
	d.Update(1, "5.10", vmtest.StateBooting, nil)
	d.Update(0, "6.1", vmtest.StateDone, &report.KernelResult{Outcome: report.Panic, Reason: "Oops", OutputTail: "last words\n"})
	out := b.String()
	require.Contains(t, out, "    | last words\n", "the tail goes above the live lines")
	require.Less(t, strings.Index(out, "last words"), strings.LastIndex(out, "5.10"), "live lines are redrawn below it")
}

// A reason quoting a hostile server cannot drive the terminal.
func TestProgressStripsControlCharactersFromReasons(t *testing.T) {
	var b bytes.Buffer
	d := New(&b, Plain, []string{"6.1"})
	d.Update(0, "6.1", vmtest.StateDone, &report.KernelResult{Outcome: report.Unavailable, Reason: "GET x: 404 \x1b[2J\x1b[Hall kernels passed\rok"})
	require.NotContains(t, b.String(), "\x1b")
	require.NotContains(t, b.String(), "\r")
	require.Contains(t, b.String(), "unavailable: GET x: 404 [2J[Hall kernels passed")
}
