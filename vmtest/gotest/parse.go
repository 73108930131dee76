package gotest

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/corematrix/corematrix/report"
)

// marker (^V) starts every framing line of -test.v=test2json output.
const marker = 0x16

// Result is a parsed Go test run.
type Result struct {
	// Events in the shape of `go test -json` (without times: the guest's
	// clock is not the host's).
	Events []report.TestEvent
	// Tests holds one verdict per test and subtest that reported one, in
	// order of first appearance.
	Tests []report.TestResult
	// Final is the binary's overall verdict ("pass", "fail") or "" when the
	// output stopped before it.
	Final string
}

// Parse converts the output of a test binary run with -test.v=test2json.
// Lines that do not start with the ^V marker are output of the current test.
func Parse(out []byte) Result {
	p := &parser{byName: map[string]*report.TestResult{}, outputs: map[string]*strings.Builder{}, open: -1}
	for line := range lines(out) {
		p.line(line)
	}
	p.flush(0)
	if p.final != "" {
		p.add(report.TestEvent{Action: p.final})
	}
	p.close()
	var r Result
	r.Events, r.Final = p.events, p.final
	for _, name := range p.order {
		t := p.byName[name]
		t.Output = p.outputs[name].String()
		if t.Status == "" {
			t.Status = "fail" // ran but never reported: the binary died under it
			if r.Final == "" {
				t.Output += "(no result: the test binary stopped while this test ran)\n"
			}
		}
		if t.Status == "pass" {
			t.Output = ""
		}
		r.Tests = append(r.Tests, *t)
	}
	return r
}

// Counts returns how many tests passed, failed and skipped. Tests holding
// subtests count once for each leaf (report.CountTests).
func (r Result) Counts() (pass, fail, skip int) {
	return report.CountTests(r.Tests)
}

type parser struct {
	events []report.TestEvent
	byName map[string]*report.TestResult
	// outputs collect each test's output (linear in the output's size,
	// where += on a string copies all of it for every line).
	outputs map[string]*strings.Builder
	// open is the index of the output event still being extended (its
	// text in openText), or -1.
	open     int
	openText strings.Builder
	order    []string
	report   []report.TestEvent // pending --- PASS/FAIL reports, by depth
	current  string
	final    string
}

// lines yields b split at \n and before a ^V that does not start a line,
// as cmd/test2json does.
func lines(b []byte) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			end := len(b)
			if b[0] == '\n' {
				end = 1
			} else if i := bytes.IndexAny(b[1:], "\n\x16"); i >= 0 {
				end = i + 1
				if b[end] == '\n' {
					end++
				}
			}
			if !yield(b[:end]) {
				return
			}
			b = b[end:]
		}
	}
}

// mayFrame reports whether a line after the ^V marker may be framing: the
// others are output, without the tests below.
func mayFrame(b []byte) bool {
	for _, p := range []string{"=== ", "--- ", "    ", "PASS", "FAIL"} {
		if bytes.HasPrefix(b, []byte(p)) {
			return true
		}
	}
	return false
}

var updates = []string{"=== RUN   ", "=== PAUSE ", "=== CONT  ", "=== NAME  ", "=== PASS  ", "=== FAIL  ", "=== SKIP  "}
var reports = []string{"--- PASS: ", "--- FAIL: ", "--- SKIP: ", "--- BENCH: "}

func (p *parser) line(raw []byte) {
	if raw[0] != marker {
		p.output(string(raw))
		return
	}
	if !mayFrame(raw[1:]) {
		p.output(string(raw[1:]))
		return
	}
	line := string(raw[1:])
	trim := strings.TrimRight(line, "\r\n")
	if trim == "PASS" || trim == "FAIL" || strings.HasPrefix(trim, "FAIL\t") {
		p.flush(0)
		p.current = ""
		if trim == "PASS" {
			p.final = "pass"
		} else {
			p.final = "fail"
		}
		p.output(line)
		return
	}
	for _, u := range updates {
		if rest, ok := strings.CutPrefix(trim, u); ok {
			action := strings.ToLower(strings.TrimSpace(u[4:]))
			name := strings.TrimSpace(rest)
			if name == "" && action != "name" {
				break // not a framing line: no test is named
			}
			p.flush(0)
			p.current = name
			if action == "name" {
				return
			}
			if action == "run" {
				p.test(name)
			}
			p.add(report.TestEvent{Action: action, Test: name})
			p.output(line)
			return
		}
	}
	indent := 0
	body := trim
	for strings.HasPrefix(body, "    ") {
		body = body[4:]
		indent++
	}
	for _, r := range reports {
		rest, ok := strings.CutPrefix(body, r)
		if !ok {
			continue
		}
		action := strings.ToLower(strings.TrimSuffix(r[4:], ": "))
		name, elapsed := rest, 0.0
		if i := strings.Index(rest, " ("); i >= 0 && strings.HasSuffix(rest, "s)") {
			elapsed, _ = strconv.ParseFloat(rest[i+2:len(rest)-2], 64)
			name = rest[:i]
		}
		if len(p.report) < indent || name == "" {
			p.output(line)
			return
		}
		p.flush(indent)
		p.current = name
		p.report = append(p.report, report.TestEvent{Action: action, Test: name, Elapsed: elapsed})
		p.output(line)
		return
	}
	p.output(line)
}

// flush emits pending reports at depth and deeper.
func (p *parser) flush(depth int) {
	p.current = ""
	for len(p.report) > depth {
		e := p.report[len(p.report)-1]
		p.report = p.report[:len(p.report)-1]
		p.add(e)
		t := p.test(e.Test)
		switch e.Action {
		case "pass", "fail", "skip":
			t.Status = e.Action
		}
		t.Elapsed = e.Elapsed
	}
}

func (p *parser) test(name string) *report.TestResult {
	t, ok := p.byName[name]
	if !ok {
		t = &report.TestResult{Name: name}
		p.byName[name] = t
		p.outputs[name] = &strings.Builder{}
		p.order = append(p.order, name)
	}
	return t
}

func (p *parser) output(s string) {
	name := p.current
	if n := len(p.events); p.open >= 0 && p.open == n-1 && p.events[n-1].Test == name && !strings.HasSuffix(p.openText.String(), "\n") {
		p.openText.WriteString(s)
	} else {
		p.add(report.TestEvent{Action: "output", Test: name})
		p.open = len(p.events) - 1
		p.openText.WriteString(s)
	}
	if name != "" {
		p.test(name)
		p.outputs[name].WriteString(s)
	}
}

// add appends an event, closing the output event being extended.
func (p *parser) add(e report.TestEvent) {
	p.close()
	p.events = append(p.events, e)
}

// close sets the text of the output event being extended.
func (p *parser) close() {
	if p.open >= 0 {
		p.events[p.open].Output = p.openText.String()
		p.openText.Reset()
		p.open = -1
	}
}

// Plain turns -test.v=test2json output into plain -test.v text: the same
// bytes without the ^V framing markers and without the "=== NAME" lines
// that the testing package prints only for test2json (to say which test
// the next lines belong to). Subtests' verdicts stay where test2json mode
// puts them: each as its subtest ends, unindented.
func Plain(out []byte) []byte {
	if bytes.IndexByte(out, marker) < 0 {
		return out
	}
	b := make([]byte, 0, len(out))
	for len(out) > 0 {
		line := out
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			line = out[:i+1]
		}
		out = out[len(line):]
		if bytes.HasPrefix(line, []byte("\x16=== NAME")) {
			continue
		}
		for {
			i := bytes.IndexByte(line, marker)
			if i < 0 {
				break
			}
			b = append(b, line[:i]...)
			line = line[i+1:]
		}
		b = append(b, line...)
	}
	return b
}
