package vmtest

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ErrReportDirBusy says another vmtest run holds the report directory.
var ErrReportDirBusy = errors.New("in use by another vmtest run")

// lockReportDir creates dir when missing and takes an exclusive flock(2) on
// it, held until the returned file is closed. QEMU writes each kernel's raw
// results stream and console into the kernel's directory and the host reads
// them back from there: two runs sharing one report directory (go test
// ./... runs packages in parallel, each through its own vmtest exec) would
// read each other's bytes ("payload trailer mismatch"). A second run is
// refused at once instead.
func lockReportDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create report directory: %w", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open report directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("report directory %s: %w (go test ./... runs packages in parallel: give each its own --report DIR, or run go test -p 1)", dir, ErrReportDirBusy)
		}
		return nil, fmt.Errorf("lock report directory %s: %w", dir, err)
	}
	return f, nil
}
