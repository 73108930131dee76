package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
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
		if err != nil {
			t.Fatalf("junit.xml is not well-formed: %v\n%s", err, x)
		}
	}
	var doc junitSuites
	if err := xml.Unmarshal(x, &doc); err != nil {
		t.Fatalf("decode junit.xml: %v\n%s", err, x)
	}
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
			if err != nil {
				t.Fatal(err)
			}
			doc := decodeJUnit(t, x)
			if len(doc.Suites) != 1 {
				t.Fatalf("got %d testsuites, want 1 per kernel", len(doc.Suites))
			}
			s := doc.Suites[0]
			got := counts{s.Tests, s.Failures, s.Errors, s.Skipped}
			if got != want[k.Kernel.Name] {
				t.Errorf("suite counts (tests, failures, errors, skipped) = %v, want %v", got, want[k.Kernel.Name])
			}
			if len(s.Cases) != s.Tests {
				t.Errorf("suite says tests=%d but holds %d testcases", s.Tests, len(s.Cases))
			}
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
			if (counts{len(s.Cases), failures, errs, skips}) != got {
				t.Errorf("testcase elements (cases, failures, errors, skipped) = %v, attributes say %v", counts{len(s.Cases), failures, errs, skips}, got)
			}
			if doc.Tests != s.Tests || doc.Failures != s.Failures || doc.Errors != s.Errors || doc.Skipped != s.Skipped {
				t.Errorf("testsuites totals %+v differ from the suite's", doc)
			}
		})
	}
}

func TestJUnitKernelCaseCarriesOutcomeAndTrace(t *testing.T) {
	for _, k := range mixedRun().Kernels {
		if k.Kernel.Name != "6.1" {
			continue
		}
		x, err := JUnit(k)
		if err != nil {
			t.Fatal(err)
		}
		doc := decodeJUnit(t, x)
		last := doc.Suites[0].Cases[len(doc.Suites[0].Cases)-1]
		if last.Name != kernelCaseName || last.Failure == nil {
			t.Fatalf("last testcase = %+v, want a %q case with a failure", last, kernelCaseName)
		}
		if last.Failure.Type != "panic" || !strings.Contains(last.Failure.Message, "sysrq triggered crash") {
			t.Errorf("kernel failure type=%q message=%q, want type panic and the reason", last.Failure.Type, last.Failure.Message)
		}
		if !strings.Contains(last.Failure.Body, "Call Trace:") {
			t.Errorf("kernel failure body = %q, want the panic trace", last.Failure.Body)
		}
	}
}

func TestJUnitStaysWellFormedWithHostileOutput(t *testing.T) {
	hostile := "\x1b[31mred\x1b[0m \x00 nul ]]> cdata end <tag> & \"quotes\" \xff\xfe bad utf8 \U0001F4A5\n"
	r := KernelResult{
		Kernel:  Kernel{Name: "6.1 <&> \"x\"", Release: "r]]>"},
		Outcome: Fail, Reason: hostile, Trace: hostile,
		Tests: []TestResult{
			{Name: "TestA<]]>", Status: "fail", Output: hostile},
			{Name: "TestB", Status: "skip", Output: hostile},
			{Name: "TestC", Status: "pass", Output: hostile},
		},
	}
	x, err := JUnit(r)
	if err != nil {
		t.Fatal(err)
	}
	doc := decodeJUnit(t, x)
	c := doc.Suites[0].Cases
	if len(c) != 3 {
		t.Fatalf("got %d testcases, want 3: %s", len(c), x)
	}
	if c[0].Name != "TestA<]]>" {
		t.Errorf("testcase name decoded as %q, want it unchanged", c[0].Name)
	}
	if !strings.Contains(c[0].Failure.Body, "]]> cdata end <tag> & \"quotes\"") {
		t.Errorf("failure body decoded as %q, want the text around ]]> intact", c[0].Failure.Body)
	}
	if strings.ContainsAny(c[0].Failure.Body, "\x1b\x00") {
		t.Errorf("failure body %q still holds characters XML cannot carry", c[0].Failure.Body)
	}
}

func TestJUnitNeverPassesAnUnreportedTest(t *testing.T) {
	for _, status := range []string{"", "running", "fail"} {
		r := KernelResult{Kernel: Kernel{Name: "6.1"}, Outcome: Fail, Reason: "x",
			Tests: []TestResult{{Name: "TestA", Status: status}}}
		x, err := JUnit(r)
		if err != nil {
			t.Fatal(err)
		}
		doc := decodeJUnit(t, x)
		if c := doc.Suites[0].Cases; len(c) != 1 || c[0].Failure == nil || doc.Suites[0].Failures != 1 {
			t.Errorf("test with status %q: testcases %+v, failures=%d; want one failed case", status, c, doc.Suites[0].Failures)
		}
	}
}
