// Command fault is the end-to-end test payload. Its behaviour is chosen by
// its first argument or, failing that, by the part of $CM_KERNEL after "+"
// (so one initramfs serves every case of a matrix).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	mode := "pass"
	if _, m, ok := strings.Cut(os.Getenv("CM_KERNEL"), "+"); ok {
		mode = m
	}
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	fmt.Println("fault payload:", mode)
	switch mode {
	case "pass":
		if err := checkGuest(); err != nil {
			fmt.Println("guest environment:", err)
			os.Exit(10)
		}
		facts := `{"programs":[{"name":"e2e","loaded":true,"verified_insns":7}]}`
		if err := os.WriteFile(os.Getenv("CM_FACTS"), []byte(facts), 0o644); err != nil {
			fmt.Println("write facts:", err)
			os.Exit(11)
		}
		fmt.Fprintln(os.Stderr, "stderr is captured too")
	case "fail":
		os.Exit(3)
	case "panic":
		os.WriteFile("/proc/sysrq-trigger", []byte("c"), 0)
		time.Sleep(time.Minute)
	case "hang":
		time.Sleep(time.Hour)
	case "killinit":
		// SIGKILL and SIGTERM cannot end PID 1 (the kernel drops the first,
		// the init ignores the second); a SIGSEGV sent with kill(2) ends the
		// Go runtime of the init.
		unix.Kill(1, unix.SIGKILL)
		unix.Kill(1, unix.SIGTERM)
		unix.Kill(1, unix.SIGSEGV)
		time.Sleep(time.Minute)
	case "poweroff":
		unix.Sync()
		unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	case "wreck":
		f, err := os.OpenFile("/dev/ttyS1", os.O_WRONLY, 0)
		if err == nil {
			f.Write([]byte("bytes the trailer does not account for\n"))
			f.Close()
		}
	default:
		fmt.Println("unknown mode")
		os.Exit(2)
	}
}

// checkGuest verifies what the guest init promises a payload.
func checkGuest() error {
	if os.Getenv("CM_VMTEST") != "1" {
		return fmt.Errorf("CM_VMTEST=%q", os.Getenv("CM_VMTEST"))
	}
	if os.Getenv("E2E_EXTRA") != "from --env" {
		return fmt.Errorf("E2E_EXTRA=%q", os.Getenv("E2E_EXTRA"))
	}
	if wd, _ := os.Getwd(); wd != "/tmp" {
		return fmt.Errorf("working directory %q", wd)
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil || rl.Cur != unix.RLIM_INFINITY {
		return fmt.Errorf("RLIMIT_MEMLOCK %+v %v", rl, err)
	}
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return err
	}
	for _, m := range []string{"/dev devtmpfs", "/sys sysfs", "/tmp tmpfs", "/run tmpfs", "/sys/kernel/debug debugfs", "/sys/kernel/tracing tracefs", "/sys/fs/bpf bpf", "/sys/fs/cgroup cgroup2"} {
		if !strings.Contains(string(mounts), " "+m+" ") {
			return fmt.Errorf("%s not mounted:\n%s", m, mounts)
		}
	}
	// Busybox gives the guest /bin/sh and the usual tools on the PATH.
	sh, err := exec.Command("/bin/sh", "-c", "echo $((6*7)) $(basename /x/y) | tr 4 X; readlink /usr/bin/awk").CombinedOutput()
	if err != nil || string(sh) != "X2 y\n/bin/busybox\n" {
		return fmt.Errorf("busybox sh: %q %v", sh, err)
	}
	flags, err := os.ReadFile("/sys/class/net/lo/flags")
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(flags)), "9") { // IFF_UP|IFF_LOOPBACK = 0x9
		return fmt.Errorf("lo flags %q %v", flags, err)
	}
	return nil
}
