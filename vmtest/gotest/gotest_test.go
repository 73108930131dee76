package gotest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/report"
)

func TestIs(t *testing.T) {
	tests := []struct {
		payload string
		args    []string
		want    bool
	}{
		{"bin/harness.test", nil, true},
		{"/tmp/go-build1/b001/pkg.test", []string{"-test.paniconexit0"}, true},
		{"bin/tool", []string{"-test.run=X"}, true},
		{"bin/tool", []string{"--verbose"}, false},
		{"bin/tester", nil, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Is(tt.payload, tt.args), "%s %q", tt.payload, tt.args)
	}
}

func TestArgs(t *testing.T) {
	tests := []struct{ in, want []string }{
		{nil, []string{"-test.v=test2json"}},
		{[]string{"-test.v"}, []string{"-test.v=test2json"}},
		{[]string{"-test.v=true", "-test.run", "TestX"}, []string{"-test.v=test2json", "-test.run", "TestX"}},
		{[]string{"--test.v", "-test.count=1"}, []string{"-test.v=test2json", "-test.count=1"}},
		{[]string{"-test.vet=off"}, []string{"-test.v=test2json", "-test.vet=off"}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Args(tt.in), "args %q", tt.in)
	}
}

// mixed.out is the real output of a Go test binary (passing, failing,
// skipped, nested and parallel tests) run with -test.v=test2json inside a
// 6.1 guest; mixed.json is what `go tool test2json` makes of it.
func TestParseMatchesTest2json(t *testing.T) {
	out, err := os.ReadFile("testdata/mixed.out")
	require.NoError(t, err)
	want := readEvents(t, "testdata/mixed.json")
	got := Parse(out)

	// Same verdict events in the same order.
	require.Equal(t, verdicts(want), verdicts(got.Events))
	// Same output per test.
	require.Equal(t, outputs(want), outputs(got.Events))

	status := map[string]string{}
	for _, tr := range got.Tests {
		status[tr.Name] = tr.Status
	}
	require.Equal(t, map[string]string{
		"TestPasses": "pass", "TestFails": "fail", "TestSkips": "skip",
		"TestSub": "fail", "TestSub/a": "pass", "TestSub/b": "fail", "TestSub/c": "pass", "TestSub/c/deep": "pass",
		"TestParallel": "pass", "TestParallel/x": "pass", "TestParallel/y": "pass",
	}, status)
	require.Equal(t, "fail", got.Final)
	pass, fail, skip := got.Counts()
	require.Equal(t, []int{5, 2, 1}, []int{pass, fail, skip}, "leaf counts")
	for _, tr := range got.Tests {
		if tr.Name == "TestFails" {
			require.Contains(t, tr.Output, "wanted 1, got 2")
		}
	}
}

func TestParseTruncated(t *testing.T) {
	out := []byte("\x16=== RUN   TestA\n\x16--- PASS: TestA (0.00s)\n\x16=== RUN   TestB\nsome output\n")
	got := Parse(out)
	require.Equal(t, "", got.Final)
	require.Len(t, got.Tests, 2)
	require.Equal(t, "pass", got.Tests[0].Status)
	require.Equal(t, "fail", got.Tests[1].Status, "a test that never reported is a failure")
	require.Contains(t, got.Tests[1].Output, "some output")
}

func TestParseNoTests(t *testing.T) {
	got := Parse([]byte("testing: warning: no tests to run\n\x16PASS\n"))
	require.Empty(t, got.Tests)
	require.Equal(t, "pass", got.Final)
}

// TestParseUnmarkedLookalike checks that a test printing "--- FAIL:" itself
// (without the ^V marker) is output, not a verdict.
func TestParseUnmarkedLookalike(t *testing.T) {
	out := []byte("\x16=== RUN   TestA\n--- FAIL: TestA (0.00s)\n\x16--- PASS: TestA (0.00s)\n\x16PASS\n")
	got := Parse(out)
	require.Len(t, got.Tests, 1)
	require.Equal(t, "pass", got.Tests[0].Status)
}

func readEvents(t *testing.T, path string) []report.TestEvent {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var evs []report.TestEvent
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var e report.TestEvent
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
		evs = append(evs, e)
	}
	return evs
}

func verdicts(evs []report.TestEvent) []string {
	var v []string
	for _, e := range evs {
		if e.Action != "output" && e.Action != "start" {
			v = append(v, e.Action+" "+e.Test)
		}
	}
	return v
}

func outputs(evs []report.TestEvent) map[string]string {
	m := map[string]string{}
	for _, e := range evs {
		if e.Action == "output" {
			m[e.Test] += e.Output
		}
	}
	return m
}
