package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
)

// decodeJUnit parses a junit.xml document back, failing on malformed XML.
func decodeJUnit(t *testing.T, x []byte) junitSuites {
	t.Helper()
	// Walk every token first: xml.Unmarshal alone skips checks on ignored parts.
	d := xml.NewDecoder(bytes.NewReader(x))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "junit.xml is not well-formed: %v\n%s", err, x)
	}
	var doc junitSuites
	err := xml.Unmarshal(x, &doc)
	require.NoError(t, err, "decode junit.xml: %v\n%s", err, x)
	return doc
}

func TestJUnitDecodesBackWithCounts(t *testing.T) {
	type counts struct{ tests, failures, errors, skipped int }
	want := map[string]counts{
		// 5.10: 6 tests, 2 failed, 1 skipped; the failures explain the outcome.
		"5.10": {6, 2, 0, 1},
		// 6.1 panicked after one passing test: the kernel case fails.
		"6.1": {2, 1, 0, 0},
		// 6.12 timed out after three passing tests.
		"6.12": {4, 1, 0, 0},
		// No test ran: one case for the kernel.
		"/tmp/k/vmlinuz-broken": {1, 1, 0, 0},
		"5.15":                  {1, 0, 1, 0},
		"latest":                {1, 0, 1, 0},
		// Every test skipped: skips, and no extra kernel case.
		"oci:ghcr.io/cilium/ci-kernels:5.4": {6, 0, 0, 6},
	}
	for _, k := range mixedRun().Kernels {
		t.Run(k.Kernel.Name, func(t *testing.T) {
			x, err := JUnit(k)
			require.NoError(t, err)
			doc := decodeJUnit(t, x)
			require.Len(t, doc.Suites, 1, "got %d testsuites, want 1 per kernel", len(doc.Suites))
			s := doc.Suites[0]
			got := counts{s.Tests, s.Failures, s.Errors, s.Skipped}
			assert.Equal(t, want[k.Kernel.Name], got, "suite counts (tests, failures, errors, skipped) = %v, want %v", got, want[k.Kernel.Name])
			assert.Len(t, s.Cases, s.Tests, "suite says tests=%d but holds %d testcases", s.Tests, len(s.Cases))
			var failures, errs, skips int
			for _, c := range s.Cases {
				if c.Failure != nil {
					failures++
				}
				if c.Error != nil {
					errs++
				}
				if c.Skipped != nil {
					skips++
				}
			}
			assert.Equal(t, got, (counts{len(s.Cases), failures, errs, skips}), "testcase elements (cases, failures, errors, skipped) = %v, attributes say %v", counts{len(s.Cases), failures, errs, skips}, got)
			assert.EqualValues(t, s.Tests, doc.Tests, "testsuites totals %+v differ from the suite's", doc)
			assert.EqualValues(t, s.Failures, doc.Failures, "testsuites totals %+v differ from the suite's", doc)
			assert.EqualValues(t, s.Errors, doc.Errors, "testsuites totals %+v differ from the suite's", doc)
			assert.EqualValues(t, s.Skipped, doc.Skipped, "testsuites totals %+v differ from the suite's", doc)
		})
	}
}

func TestJUnitKernelCaseCarriesOutcomeAndTrace(t *testing.T) {
	for _, k := range mixedRun().Kernels {
		if k.Kernel.Name != "6.1" {
			continue
		}
		x, err := JUnit(k)
		require.NoError(t, err)
		doc := decodeJUnit(t, x)
		last := doc.Suites[0].Cases[len(doc.Suites[0].Cases)-1]
		require.Equal(t, kernelCaseName, last.Name, "last testcase = %+v, want a %q case with a failure", last, kernelCaseName)
		require.NotNil(t, last.Failure, "last testcase = %+v, want a %q case with a failure", last, kernelCaseName)
		assert.EqualValues(t, "panic", last.Failure.Type, "kernel failure type=%q message=%q, want type panic and the reason", last.Failure.Type, last.Failure.Message)
		assert.Contains(t, last.Failure.Message, "sysrq triggered crash", "kernel failure type=%q message=%q, want type panic and the reason", last.Failure.Type, last.Failure.Message)
		assert.Contains(t, last.Failure.Body, "Call Trace:", "kernel failure body = %q, want the panic trace", last.Failure.Body)
	}
}

func TestJUnitStaysWellFormedWithHostileOutput(t *testing.T) {
	hostile := "\x1b[31mred\x1b[0m \x00 nul ]]> cdata end <tag> & \"quotes\" \xff\xfe bad utf8 \U0001F4A5\n"
	r := KernelResult{
		Kernel:  kernel.Kernel{Name: "6.1 <&> \"x\"", Release: "r]]>"},
		Outcome: Fail, Reason: hostile, Trace: hostile,
		Tests: []TestResult{
			{Name: "TestA<]]>", Status: "fail", Output: hostile},
			{Name: "TestB", Status: "skip", Output: hostile},
			{Name: "TestC", Status: "pass", Output: hostile},
		},
	}
	x, err := JUnit(r)
	require.NoError(t, err)
	doc := decodeJUnit(t, x)
	c := doc.Suites[0].Cases
	require.Len(t, c, 3, "got %d testcases, want 3: %s", len(c), x)
	assert.EqualValues(t, "TestA<]]>", c[0].Name, "testcase name decoded as %q, want it unchanged", c[0].Name)
	assert.Contains(t, c[0].Failure.Body, "]]> cdata end <tag> & \"quotes\"", "failure body decoded as %q, want the text around ]]> intact", c[0].Failure.Body)
	assert.False(t, strings.ContainsAny(c[0].Failure.Body, "\x1b\x00"), "failure body %q still holds characters XML cannot carry", c[0].Failure.Body)
}

func TestJUnitNeverPassesAnUnreportedTest(t *testing.T) {
	for _, status := range []string{"", "running", "fail"} {
		r := KernelResult{Kernel: kernel.Kernel{Name: "6.1"}, Outcome: Fail, Reason: "x",
			Tests: []TestResult{{Name: "TestA", Status: status}}}
		x, err := JUnit(r)
		require.NoError(t, err)
		doc := decodeJUnit(t, x)
		c := doc.Suites[0].Cases
		assert.Len(t, c, 1, "test with status %q: testcases %+v, failures=%d; want one failed case", status, c, doc.Suites[0].Failures)
		assert.NotNil(t, c[0].Failure, "test with status %q: testcases %+v, failures=%d; want one failed case", status, c, doc.Suites[0].Failures)
		assert.EqualValues(t, 1, doc.Suites[0].Failures, "test with status %q: testcases %+v, failures=%d; want one failed case", status, c, doc.Suites[0].Failures)
	}
}
