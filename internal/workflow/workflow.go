package workflow

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Guard wraps a run in a stop-commands token under GitHub Actions.
type Guard struct {
	mu      sync.Mutex
	w       io.Writer
	token   string
	pending []string
}

// Start returns a Guard writing to w (vmtest's stdout). When active (under
// GitHub Actions: GITHUB_ACTIONS=true) it prints a ::stop-commands:: line
// with a fresh random token at once, before any guest byte can be printed.
func Start(w io.Writer, active bool) *Guard {
	g := &Guard{w: w}
	if active {
		var b [16]byte
		rand.Read(b[:])
		g.token = "corematrix-" + hex.EncodeToString(b[:])
		fmt.Fprintf(w, "::stop-commands::%s\n", g.token)
	}
	return g
}

// Active reports whether workflow commands are stopped.
func (g *Guard) Active() bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.token != ""
}

// Command prints a workflow command of vmtest's own (an annotation): at
// once when the guard is not active, after the resume when it is.
func (g *Guard) Command(line string) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.token == "" {
		fmt.Fprintln(g.w, line)
		return
	}
	g.pending = append(g.pending, line)
}

// End resumes workflow commands and prints the commands held back. It may
// be called more than once.
func (g *Guard) End() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.token != "" {
		fmt.Fprintf(g.w, "::%s::\n", g.token)
		g.token = ""
	}
	for _, l := range g.pending {
		fmt.Fprintln(g.w, l)
	}
	g.pending = nil
}

// Token is the current stop token ("" when not active); for tests.
func (g *Guard) Token() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.token
}

// zwsp separates the characters of a command marker: the line reads the
// same, and no runner takes it for a command.
const zwsp = "\u200b"

// Neutral returns s with every line made inert: "##[" anywhere becomes
// "##\u200b[" and "::" at a line's start (after white space) becomes
// ":\u200b:".
func Neutral(s string) string {
	if !strings.Contains(s, "##[") && !strings.Contains(s, "::") {
		return s
	}
	s = strings.ReplaceAll(s, "##[", "##"+zwsp+"[")
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		t := strings.TrimLeft(l, " \t\r\v\f")
		if strings.HasPrefix(t, "::") {
			lines[i] = l[:len(l)-len(t)] + ":" + zwsp + t[1:]
		}
	}
	return strings.Join(lines, "")
}

// maxLine is how much of a line Writer holds while waiting for its end.
const maxLine = 64 << 10

// Writer neutralises the lines written to it (see Neutral) and passes them
// on to W; a partial line waits for its newline (at most maxLine bytes) or
// Flush.
type Writer struct {
	mu  sync.Mutex
	W   io.Writer
	buf []byte
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer { return &Writer{W: w} }

func (n *Writer) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.buf = append(n.buf, p...)
	end := bytes.LastIndexByte(n.buf, '\n') + 1
	if end == 0 && len(n.buf) > maxLine {
		end = len(n.buf)
	}
	if end > 0 {
		if _, err := io.WriteString(n.W, Neutral(string(n.buf[:end]))); err != nil {
			return len(p), err
		}
		n.buf = append(n.buf[:0], n.buf[end:]...)
	}
	return len(p), nil
}

// Flush writes a partial last line.
func (n *Writer) Flush() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.buf) == 0 {
		return nil
	}
	_, err := io.WriteString(n.W, Neutral(string(n.buf)))
	n.buf = n.buf[:0]
	return err
}
