package progress

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/corematrix/corematrix/internal/termtext"
)

// Reporter receives progress. A nil *Reporter reports nothing.
type Reporter struct {
	mu  sync.Mutex
	w   io.Writer
	tty bool
	now func() time.Time
}

// New returns a Reporter writing to w; tty selects live updates of one
// line per download instead of a line at its start and end.
func New(w io.Writer, tty bool) *Reporter {
	return &Reporter{w: w, tty: tty, now: time.Now}
}

// Stepf reports one step, on one line with control characters removed
// (arguments often carry text from servers and images).
func (r *Reporter) Stepf(format string, args ...any) {
	if r == nil || r.w == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintln(r.w, termtext.Line(fmt.Sprintf(format, args...)))
}

// Download wraps src, the body of a download of size bytes (-1 if unknown)
// labelled label, so that reading it reports progress. Call the returned
// done function when the download ends.
func (r *Reporter) Download(label string, size int64, src io.Reader) (io.Reader, func(err error)) {
	if r == nil || r.w == nil {
		return src, func(error) {}
	}
	d := &download{r: r, label: termtext.Line(label), size: size, src: src, start: r.now()}
	if !r.tty {
		r.Stepf("downloading %s (%s)", label, Bytes(size))
	}
	return d, d.done
}

type download struct {
	r     *Reporter
	label string
	size  int64
	src   io.Reader
	n     int64
	start time.Time
	last  time.Time
}

func (d *download) Read(p []byte) (int, error) {
	n, err := d.src.Read(p)
	d.n += int64(n)
	if d.r.tty {
		if now := d.r.now(); now.Sub(d.last) >= 200*time.Millisecond {
			d.last = now
			d.r.mu.Lock()
			fmt.Fprintf(d.r.w, "\r\033[K%s %s/%s %s/s", d.label, Bytes(d.n), Bytes(d.size), Bytes(d.rate()))
			d.r.mu.Unlock()
		}
	}
	return n, err
}

func (d *download) rate() int64 {
	s := d.r.now().Sub(d.start).Seconds()
	if s <= 0 {
		return 0
	}
	return int64(float64(d.n) / s)
}

func (d *download) done(err error) {
	el := d.r.now().Sub(d.start).Round(10 * time.Millisecond)
	d.r.mu.Lock()
	defer d.r.mu.Unlock()
	if d.r.tty {
		fmt.Fprint(d.r.w, "\r\033[K")
	}
	if err != nil {
		fmt.Fprintln(d.r.w, termtext.Line(fmt.Sprintf("download %s failed after %s: %v", d.label, Bytes(d.n), err)))
		return
	}
	fmt.Fprintf(d.r.w, "downloaded %s: %s in %s (%s/s)\n", d.label, Bytes(d.n), el, Bytes(d.rate()))
}

// Bytes formats a byte count for people ("12.3 MiB"); negative is "?".
func Bytes(n int64) string {
	switch {
	case n < 0:
		return "?"
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}
