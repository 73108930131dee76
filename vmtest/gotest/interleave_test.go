package gotest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

const m = "\x16"

func TestInterleaverNamesEachKernelsTests(t *testing.T) {
	var out bytes.Buffer
	il := NewInterleaver(&out)
	a, b := il.Writer("5.10"), il.Writer("6.1")
	a.Write([]byte(m + "=== RUN   TestX\n"))
	b.Write([]byte(m + "=== RUN   TestX\n"))
	a.Write([]byte("    x_test.go:9: from 5.10\n"))
	a.Write([]byte(m + "=== RUN   TestX/sub\n" + m + "--- PASS: TestX/sub (0.00s)\n" + m + "=== NAME  TestX\n" + m + "--- PASS: TestX (0.01s)\n"))
	b.Write([]byte(m + "--- FAIL: TestX (0.02s)\n" + m + "FAIL\n"))
	a.Write([]byte(m + "PAS"))
	a.Write([]byte("S\n"))
	il.Flush()
	want := []string{
		m + "=== RUN   5.10/TestX",
		m + "=== RUN   6.1/TestX",
		m + "=== NAME  5.10/TestX",
		"    x_test.go:9: from 5.10",
		m + "=== RUN   5.10/TestX/sub",
		m + "--- PASS: 5.10/TestX/sub (0.00s)",
		m + "=== NAME  5.10/TestX",
		m + "--- PASS: 5.10/TestX (0.01s)",
		m + "--- FAIL: 6.1/TestX (0.02s)",
		"6.1: FAIL",
		"5.10: PASS",
		m + "=== NAME  ",
		"",
	}
	assert.Equal(t, strings.Join(want, "\n"), out.String())

	// What test2json would make of it: the tests of the two kernels are
	// told apart by name.
	r := Parse(out.Bytes())
	var got []string
	for _, tr := range r.Tests {
		got = append(got, tr.Name+"="+tr.Status)
	}
	assert.Equal(t, []string{"5.10/TestX=pass", "6.1/TestX=fail", "5.10/TestX/sub=pass"}, got)
}

func TestVerbosityAndFrame(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want Verbosity
	}{
		{nil, Quiet},
		{[]string{"-test.v"}, Verbose},
		{[]string{"-test.v=true"}, Verbose},
		{[]string{"--test.v=test2json"}, Framed},
		{[]string{"-test.v", "-test.v=false"}, Quiet},
		{[]string{"-test.run=X"}, Quiet},
	} {
		assert.Equal(t, tc.want, VerbosityOf(tc.args), "%q", tc.args)
	}
	// As a test binary prints it with -test.v: a parent's verdict comes
	// before its subtests', which are indented.
	plain := "=== RUN   TestA\n    a_test.go:3: log\n--- PASS: TestA (0.00s)\n=== RUN   TestB\n=== RUN   TestB/x\n    a_test.go:7: skipping\n--- PASS: TestB (0.00s)\n    --- SKIP: TestB/x (0.00s)\nPASS\n"
	r := Parse(Frame([]byte(plain)))
	pass, fail, skip := r.Counts()
	assert.Equal(t, [3]int{1, 0, 1}, [3]int{pass, fail, skip}, "tests %+v", r.Tests) // TestB counts as its one leaf
	assert.Equal(t, "pass", r.Final)
	assert.Equal(t, plain, string(Plain(Frame([]byte(plain)))))
}
