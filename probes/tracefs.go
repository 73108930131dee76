package probes

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Mount points cilium/ebpf looks for tracepoint and kprobe event files in.
var tracefsPaths = []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}

// EnsureTracefs mounts tracefs at /sys/kernel/tracing unless tracefs or
// debugfs is already mounted there (or at /sys/kernel/debug). Tracepoint
// attachment needs it to find event ids; a fresh initramfs has none mounted.
// Requires root and CONFIG_TRACING.
func EnsureTracefs() error {
	for _, p := range tracefsPaths {
		if _, err := os.Stat(p + "/events"); err == nil {
			return nil
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/kernel/tracing", &st); err != nil {
		return fmt.Errorf("tracefs: /sys/kernel/tracing: %w", err)
	}
	err := unix.Mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, "")
	if err != nil && !errors.Is(err, unix.EBUSY) {
		return classify(fmt.Errorf("mount tracefs on /sys/kernel/tracing: %w", err))
	}
	return nil
}
