package progress

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestDownloadPlain(t *testing.T) {
	var out strings.Builder
	r := New(&out, false)
	src, done := r.Download("pkg_1.0", 3<<20, strings.NewReader(strings.Repeat("x", 3<<20)))
	if n, err := io.Copy(io.Discard, src); err != nil || n != 3<<20 {
		t.Fatalf("copy = %d, %v", n, err)
	}
	done(nil)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || lines[0] != "downloading pkg_1.0 (3.0 MiB)" || !strings.HasPrefix(lines[1], "downloaded pkg_1.0: 3.0 MiB in ") {
		t.Fatalf("plain progress = %q", out.String())
	}
	if strings.Contains(out.String(), "\r") {
		t.Fatalf("plain progress has carriage returns: %q", out.String())
	}
}

func TestDownloadTTY(t *testing.T) {
	var out strings.Builder
	r := New(&out, true)
	now := time.Unix(0, 0)
	r.now = func() time.Time { now = now.Add(time.Second); return now }
	src, done := r.Download("pkg", 4096, strings.NewReader(strings.Repeat("x", 4096)))
	buf := make([]byte, 1024)
	for {
		if _, err := src.Read(buf); err != nil {
			break
		}
	}
	done(errors.New("boom"))
	s := out.String()
	if !strings.Contains(s, "\r\033[Kpkg 1.0 KiB/4.0 KiB") || !strings.Contains(s, "/s") || !strings.Contains(s, "download pkg failed after 4.0 KiB: boom") {
		t.Fatalf("tty progress = %q", s)
	}
}

func TestNilReporter(t *testing.T) {
	var r *Reporter
	r.Stepf("nothing %d", 1)
	src, done := r.Download("x", 1, strings.NewReader("a"))
	if b, _ := io.ReadAll(src); string(b) != "a" {
		t.Fatalf("nil reporter changed the stream: %q", b)
	}
	done(nil)
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{-1: "?", 12: "12 B", 2048: "2.0 KiB", 25 << 20: "25.0 MiB", 3 << 30: "3.00 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
