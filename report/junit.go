package report

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// JUnit XML, in the shape most viewers read (Jenkins, GitLab, GitHub test
// reporters): <testsuites> holding one <testsuite> per kernel.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

// junitText is element text kept readable as CDATA.
type junitText struct {
	Text string `xml:",cdata"`
}

type junitProblem struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",cdata"`
}

// kernelCaseName is the name of the testcase standing for the kernel itself.
const kernelCaseName = "kernel"

// JUnit renders r as a JUnit XML document with one testsuite, named after the
// kernel, holding one testcase per Go test (classname: the kernel name), with
// a failure or skipped element and the test's output.
//
// When no test ran, or the kernel's outcome is not a pass and no failed test
// accounts for it (a panic after the tests, a corrupt result stream), the
// suite also holds a testcase named "kernel" carrying the outcome and reason:
// a failure for fail, panic, timeout and boot-failure (with the panic trace),
// an error for infra-error and unavailable, skipped for skip. So a red kernel
// is never green in a JUnit viewer.
func JUnit(r KernelResult) ([]byte, error) {
	suite := junitSuiteOf(r)
	doc := junitSuites{
		Name:     "corematrix",
		Tests:    suite.Tests,
		Failures: suite.Failures,
		Errors:   suite.Errors,
		Skipped:  suite.Skipped,
		Time:     suite.Time,
		Suites:   []junitSuite{suite},
	}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode junit: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

func junitSuiteOf(r KernelResult) junitSuite {
	name := r.Kernel.Name
	s := junitSuite{
		Name: "kernel " + name,
		Time: seconds(r.Timings.Total),
	}
	if r.Kernel.Release != "" {
		s.Name += " (" + r.Kernel.Release + ")"
	}
	for _, p := range []junitProperty{
		{"kernel.name", r.Kernel.Name},
		{"kernel.arch", archOf(r.Kernel)},
		{"kernel.version", r.Kernel.Version},
		{"kernel.release", r.Kernel.Release},
		{"kernel.source", r.Kernel.Source},
		{"kernel.sha256", r.Kernel.SHA256},
		{"accel", r.Accel},
		{"outcome", string(r.Outcome)},
		{"reason", r.Reason},
		{"boot_seconds", positiveSeconds(r.Timings.Boot)},
		{"payload_seconds", positiveSeconds(r.Timings.Payload)},
	} {
		if p.Value != "" {
			s.Properties = append(s.Properties, p)
		}
	}
	testFailed := false
	for _, t := range r.Tests {
		c := junitCase{Name: t.Name, Classname: name, Time: seconds(t.Elapsed)}
		switch t.Status {
		case "pass":
			c.SystemOut = systemOut(t.Output)
		case "skip":
			s.Skipped++
			c.Skipped = &junitProblem{Message: firstLine(skipReason(t.Output)), Body: xmlText(t.Output)}
		default: // "fail", or a status no Go test reports: never a pass
			testFailed = true
			s.Failures++
			c.Failure = &junitProblem{Message: t.Name + " failed on kernel " + name, Type: "fail", Body: xmlText(t.Output)}
		}
		s.Cases = append(s.Cases, c)
	}
	if len(r.Tests) == 0 || (!r.Outcome.Passed() && !testFailed && r.Outcome != Skip) {
		c := junitCase{Name: kernelCaseName, Classname: name, Time: seconds(r.Timings.Total)}
		msg := string(r.Outcome) + ": " + r.Reason
		switch {
		case r.Outcome.Passed():
			c.SystemOut = systemOut(r.Reason)
		case r.Outcome == Skip:
			s.Skipped++
			c.Skipped = &junitProblem{Message: msg}
		case r.Outcome.Infrastructure():
			s.Errors++
			c.Error = &junitProblem{Message: msg, Type: string(r.Outcome), Body: xmlText(r.Trace)}
		default:
			s.Failures++
			c.Failure = &junitProblem{Message: msg, Type: string(r.Outcome), Body: xmlText(r.Trace)}
		}
		s.Cases = append(s.Cases, c)
	}
	s.Tests = len(s.Cases)
	return s
}

// skipReason returns the line of a skipped test's output that says why: the
// first line that is not a "=== RUN" or "--- SKIP" marker.
func skipReason(out string) string {
	for l := range strings.SplitSeq(out, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		return t
	}
	return ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func seconds(f float64) string { return fmt.Sprintf("%.3f", f) }

func positiveSeconds(f float64) string {
	if f <= 0 {
		return ""
	}
	return seconds(f)
}

func systemOut(s string) *junitText {
	if s == "" {
		return nil
	}
	return &junitText{Text: xmlText(s)}
}

// xmlText replaces the characters XML 1.0 cannot carry (NUL, most C0
// controls such as the ESC of terminal colours, unpaired surrogates) with
// U+FFFD. encoding/xml writes CDATA as it is, so this keeps the document
// well-formed whatever a test printed.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return '\uFFFD'
	}, s)
}
