package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"syscall"

	"github.com/corematrix/corematrix/internal/beneath"
	"github.com/corematrix/corematrix/kernel"
)

// MaxReportFile bounds a results.json or summary.json read back by Load.
// Reports hold test output, so they can be large, but not this large.
const MaxReportFile = 256 << 20

// ErrNotRegular is returned for a report path that is a symlink, device,
// pipe or directory where a regular file belongs.
var ErrNotRegular = errors.New("not a regular file")

// readRegular reads path when it is a regular file (not a symlink) of at
// most max bytes. It reports false without error when path does not exist.
func readRegular(path string, max int64) ([]byte, bool, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !st.Mode().IsRegular() {
		return nil, false, fmt.Errorf("%s: %w (a %s)", path, ErrNotRegular, kind(st.Mode()))
	}
	if st.Size() > max {
		return nil, false, fmt.Errorf("%s: %d bytes, more than the limit of %d", path, st.Size(), max)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, false, fmt.Errorf("%s: %w", path, ErrNotRegular)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > max {
		return nil, false, fmt.Errorf("%s: more than the limit of %d bytes", path, max)
	}
	return b, true, nil
}

// ensureDir creates dir (and its parents) and opens it; dir itself must be
// a directory, not a symlink to one. Files are then written through the
// returned directory without following links: reports are never written
// through a planted link.
func ensureDir(dir string) (*beneath.Dir, error) {
	d, err := beneath.MkdirAll(dir, 0o755)
	if err != nil {
		return nil, fmt.Errorf("%w; refusing to write through it", err)
	}
	return d, nil
}

// validOutcome reports whether o is an outcome a run writes.
func validOutcome(o Outcome) bool { return containsOutcome(outcomeOrder, o) }

// validate refuses values that no run writes: they would be rendered into
// summaries as they are.
func (r KernelResult) validate() error {
	if !validOutcome(r.Outcome) {
		return fmt.Errorf("kernel %q: unknown outcome %q", r.Kernel.Name, r.Outcome)
	}
	if a := r.Kernel.Arch; a != "" && !slices.Contains(kernel.Arches, a) {
		return fmt.Errorf("kernel %q: unknown architecture %q", r.Kernel.Name, a)
	}
	for _, t := range r.Tests {
		switch t.Status {
		case "pass", "fail", "skip", "":
		default:
			return fmt.Errorf("kernel %q: test %q: unknown status %q", r.Kernel.Name, t.Name, t.Status)
		}
	}
	return nil
}

// decodeReport decodes a results.json or summary.json and validates it.
func decodeReport(path string, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	var ks []KernelResult
	switch x := v.(type) {
	case *Summary:
		ks = x.Kernels
	case *KernelResult:
		ks = []KernelResult{*x}
	}
	for _, k := range ks {
		if err := k.validate(); err != nil {
			return fmt.Errorf("decode %s: %w", path, err)
		}
	}
	return nil
}

// kind names the type of a file for messages.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m.IsDir():
		return "directory"
	case m.IsRegular():
		return "regular file"
	}
	return m.Type().String()
}
