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
	p := &parser{byName: map[string]*report.TestResult{}}
	for _, line := range splitLines(out) {
		p.line(line)
	}
	p.flush(0)
	if p.final != "" {
		p.events = append(p.events, report.TestEvent{Action: p.final})
	}
	var r Result
	r.Events, r.Final = p.events, p.final
	for _, name := range p.order {
		t := p.byName[name]
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
// subtests count once for each leaf.
func (r Result) Counts() (pass, fail, skip int) {
	parents := map[string]bool{}
	for _, t := range r.Tests {
		if i := strings.LastIndex(t.Name, "/"); i > 0 {
			for p := t.Name[:i]; ; {
				parents[p] = true
				j := strings.LastIndex(p, "/")
				if j < 0 {
					break
				}
				p = p[:j]
			}
		}
	}
	for _, t := range r.Tests {
		if parents[t.Name] {
			continue
		}
		switch t.Status {
		case "pass":
			pass++
		case "skip":
			skip++
		default:
			fail++
		}
	}
	return
}

type parser struct {
	events  []report.TestEvent
	byName  map[string]*report.TestResult
	order   []string
	report  []report.TestEvent // pending --- PASS/FAIL reports, by depth
	current string
	final   string
}

// splitLines splits at \n and before a ^V that does not start a line, as
// cmd/test2json does.
func splitLines(b []byte) [][]byte {
	var lines [][]byte
	for len(b) > 0 {
		end := len(b)
		for i, c := range b {
			if c == '\n' {
				end = i + 1
				break
			}
			if c == marker && i > 0 {
				end = i
				break
			}
		}
		lines = append(lines, b[:end])
		b = b[end:]
	}
	return lines
}

var updates = []string{"=== RUN   ", "=== PAUSE ", "=== CONT  ", "=== NAME  ", "=== PASS  ", "=== FAIL  ", "=== SKIP  "}
var reports = []string{"--- PASS: ", "--- FAIL: ", "--- SKIP: ", "--- BENCH: "}

func (p *parser) line(raw []byte) {
	if raw[0] != marker {
		p.output(string(raw))
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
			p.events = append(p.events, report.TestEvent{Action: action, Test: name})
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
		p.events = append(p.events, e)
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
		p.order = append(p.order, name)
	}
	return t
}

func (p *parser) output(s string) {
	name := p.current
	if n := len(p.events); n > 0 && p.events[n-1].Action == "output" && p.events[n-1].Test == name && !strings.HasSuffix(p.events[n-1].Output, "\n") {
		p.events[n-1].Output += s
	} else {
		p.events = append(p.events, report.TestEvent{Action: "output", Test: name, Output: s})
	}
	if name != "" {
		t := p.test(name)
		t.Output += s
	}
}

// Plain turns -test.v=test2json output back into what -test.v prints: the
// same bytes without the ^V framing markers.
func Plain(out []byte) []byte {
	return bytes.ReplaceAll(out, []byte{marker}, nil)
}
