package gotest

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// Interleaver writes the framed output (-test.v=test2json) of one test
// binary per kernel, running side by side, to one writer that cmd/test2json
// reads (`go test -json -exec 'vmtest exec --kernels ...'`), so that each
// kernel's tests arrive under their own names:
//
//   - every test name gets its kernel as a prefix: TestX in kernel 6.1 is
//     "6.1/TestX", its subtest "6.1/TestX/sub";
//   - when another kernel wrote since, a "=== NAME" framing line first names
//     the test the next line belongs to, as the testing package does for
//     parallel tests;
//   - each binary's final PASS or FAIL becomes plain output ("6.1: PASS"):
//     the package's verdict is the go command's, from the exit code.
//
// Lines without the marker pass unchanged. The zero value is not usable: use
// NewInterleaver.
type Interleaver struct {
	mu   sync.Mutex
	w    io.Writer
	last *kernelWriter // the kernel whose line was written last
	all  []*kernelWriter
}

// NewInterleaver returns an Interleaver writing to w.
func NewInterleaver(w io.Writer) *Interleaver { return &Interleaver{w: w} }

// Writer returns the writer for kernel's stdout.
func (il *Interleaver) Writer(kernel string) io.Writer {
	il.mu.Lock()
	defer il.mu.Unlock()
	kw := &kernelWriter{il: il, kernel: kernel}
	il.all = append(il.all, kw)
	return kw
}

// Flush writes every kernel's partial last line, then an empty "=== NAME"
// line: what follows (vmtest's table, the go command's verdict) belongs to
// the package, not to the last test that wrote.
func (il *Interleaver) Flush() {
	il.mu.Lock()
	defer il.mu.Unlock()
	for _, kw := range il.all {
		if len(kw.buf) > 0 {
			kw.line(append(kw.buf, '\n'))
			kw.buf = nil
		}
	}
	if il.last != nil {
		il.w.Write([]byte(string(rune(marker)) + "=== NAME  \n"))
		il.last = nil
	}
}

type kernelWriter struct {
	il      *Interleaver
	kernel  string
	current string // the test the kernel's output belongs to, renamed
	buf     []byte
}

func (kw *kernelWriter) Write(p []byte) (int, error) {
	kw.il.mu.Lock()
	defer kw.il.mu.Unlock()
	kw.buf = append(kw.buf, p...)
	for {
		i := bytes.IndexByte(kw.buf, '\n')
		if i < 0 {
			break
		}
		kw.line(kw.buf[:i+1])
		kw.buf = kw.buf[i+1:]
	}
	return len(p), nil
}

// line writes one whole line; il.mu is held.
func (kw *kernelWriter) line(l []byte) {
	var out bytes.Buffer
	if len(l) > 0 && l[0] == marker {
		l = kw.rename(string(l[1:]), &out)
	} else if kw.il.last != kw && kw.current != "" {
		out.WriteString(string(rune(marker)) + "=== NAME  " + kw.current + "\n")
	}
	out.Write(l)
	kw.il.last = kw
	kw.il.w.Write(out.Bytes())
}

// rename returns the framing line body (after the marker) with its test
// renamed, marker included, or the final verdict as plain output.
func (kw *kernelWriter) rename(body string, pre *bytes.Buffer) []byte {
	trim := strings.TrimRight(body, "\r\n")
	if trim == "PASS" || trim == "FAIL" || strings.HasPrefix(trim, "FAIL\t") {
		kw.current = ""
		return []byte(kw.kernel + ": " + body)
	}
	for _, u := range updates {
		if rest, ok := strings.CutPrefix(trim, u); ok && strings.TrimSpace(rest) != "" {
			kw.current = kw.kernel + "/" + strings.TrimSpace(rest)
			return []byte(string(rune(marker)) + u + kw.current + body[len(trim):])
		}
	}
	indent := ""
	rest := trim
	for strings.HasPrefix(rest, "    ") {
		indent, rest = indent+"    ", rest[4:]
	}
	for _, r := range reports {
		if after, ok := strings.CutPrefix(rest, r); ok && after != "" {
			name, tail := after, ""
			if i := strings.Index(after, " ("); i >= 0 {
				name, tail = after[:i], after[i:]
			}
			kw.current = kw.kernel + "/" + name
			return []byte(string(rune(marker)) + indent + r + kw.current + tail + body[len(trim):])
		}
	}
	if strings.HasPrefix(trim, "=== NAME") {
		kw.current = "" // output between tests
	}
	// Another framed line: it belongs to the current test of this kernel.
	if kw.il.last != kw && kw.current != "" {
		pre.WriteString(string(rune(marker)) + "=== NAME  " + kw.current + "\n")
	}
	return []byte(string(rune(marker)) + body)
}
