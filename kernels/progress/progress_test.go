package progress

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDownloadPlain(t *testing.T) {
	var out strings.Builder
	r := New(&out, false)
	src, done := r.Download("pkg_1.0", 3<<20, strings.NewReader(strings.Repeat("x", 3<<20)))
	n, err := io.Copy(io.Discard, src)
	require.NoError(t, err, "copy = %d,", n)
	require.False(t, n != 3<<20, "copy = %d, %v", n, err)
	done(nil)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2, "plain progress = %q", out.String())
	require.EqualValues(t, "downloading pkg_1.0 (3.0 MiB)", lines[0], "plain progress = %q", out.String())
	require.True(t, strings.HasPrefix(lines[1], "downloaded pkg_1.0: 3.0 MiB in "), "plain progress = %q", out.String())
	require.NotContains(t, out.String(), "\r", "plain progress has carriage returns: %q", out.String())
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
	require.Contains(t, s, "\r\033[Kpkg 1.0 KiB/4.0 KiB", "tty progress = %q", s)
	require.Contains(t, s, "/s", "tty progress = %q", s)
	require.Contains(t, s, "download pkg failed after 4.0 KiB: boom", "tty progress = %q", s)
}

func TestNilReporter(t *testing.T) {
	var r *Reporter
	r.Stepf("nothing %d", 1)
	src, done := r.Download("x", 1, strings.NewReader("a"))
	b, _ := io.ReadAll(src)
	require.EqualValues(t, "a", string(b), "nil reporter changed the stream: %q", b)
	done(nil)
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{-1: "?", 12: "12 B", 2048: "2.0 KiB", 25 << 20: "25.0 MiB", 3 << 30: "3.00 GiB"} {
		got := Bytes(n)
		assert.Equal(t, want, got, "Bytes(%d) = %q, want %q", n, got, want)
	}
}
