package ground

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/go-multierror"
	"golang.org/x/sys/unix"
)

// InVM reports whether the runner (vmtest) started this process inside a
// guest, where missing tracing support is a failure rather than a skip.
func InVM() bool { return os.Getenv("CM_VMTEST") == "1" }

// kprobeEvents lists where a kernel with kprobe events exposes them.
var kprobeEvents = []string{
	"/sys/kernel/tracing/kprobe_events",
	"/sys/kernel/debug/tracing/kprobe_events",
}

// TracingUnavailable returns why this host cannot run the tracer (not root,
// or no kprobe events in tracefs), or "" when it can.
func TracingUnavailable() string {
	if os.Geteuid() != 0 {
		return fmt.Sprintf("not root (euid %d): loading BPF programs needs privileges", os.Geteuid())
	}
	for _, p := range kprobeEvents {
		if _, err := os.Stat(p); err == nil {
			return ""
		}
	}
	return "this kernel exposes no kprobe events (neither " + strings.Join(kprobeEvents, " nor ") +
		"); the suite runs inside vmtest guests"
}

// PrepareGuest makes a minimal guest usable for tracing: it mounts proc,
// sysfs, tracefs and debugfs where they are not mounted yet and brings the
// loopback interface up (an initramfs boot leaves it down). It is idempotent.
func PrepareGuest() error {
	var errs []error
	mounts := []struct{ fstype, target string }{
		{"proc", "/proc"},
		{"sysfs", "/sys"},
		{"tracefs", "/sys/kernel/tracing"},
		{"debugfs", "/sys/kernel/debug"},
	}
	for _, m := range mounts {
		mounted, err := isMounted(m.fstype, m.target)
		if err != nil && m.fstype != "proc" {
			errs = append(errs, err)
			continue
		}
		if mounted {
			continue
		}
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			errs = append(errs, fmt.Errorf("mount %s: %w", m.target, err))
			continue
		}
		if err := unix.Mount(m.fstype, m.target, m.fstype, 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			errs = append(errs, fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err))
		}
	}
	// Children run under a non-root uid and exec files below the temp
	// directory: every directory on the way must be searchable by others.
	for _, d := range []string{"/", os.TempDir()} {
		if err := worldSearchable(d); err != nil {
			errs = append(errs, err)
		}
	}
	if err := LinkUp("lo"); err != nil {
		errs = append(errs, err)
	}
	return multierror.Append(nil, errs...).ErrorOrNil()
}

// worldSearchable adds o+x (and sticky world write for the temp directory)
// where a guest's initramfs left a directory private.
func worldSearchable(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && dir != "/" {
			return os.MkdirAll(dir, 0o1777)
		}
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	mode := fi.Mode().Perm() | 0o005
	if dir != "/" {
		mode = 0o777 | os.ModeSticky
	}
	if fi.Mode()&(os.ModePerm|os.ModeSticky) == mode {
		return nil
	}
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return nil
}

// isMounted reports whether a filesystem of fstype is mounted at target.
func isMounted(fstype, target string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, fmt.Errorf("mountinfo: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw"
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) >= 5 && len(b) >= 1 && a[4] == target && b[0] == fstype {
			return true, nil
		}
	}
	return false, s.Err()
}

// LinkUp sets IFF_UP on a network interface.
func LinkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("link %s up: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("link %s up: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("link %s up: get flags: %w", name, err)
	}
	flags := ifr.Uint16()
	if flags&unix.IFF_UP != 0 {
		return nil
	}
	ifr.SetUint16(flags | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("link %s up: set flags: %w", name, err)
	}
	return nil
}
