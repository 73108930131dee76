package vmtest

import (
	"fmt"
	"regexp"
	"syscall"

	"golang.org/x/sys/unix"
)

// oomKill matches the kernel's report of an OOM kill ("Out of memory: Killed
// process 95 (fault) total-vm:...", also of a memory cgroup); group 1 is the
// pid, group 2 the command name.
var oomKill = regexp.MustCompile(`(?i)out of memory: Killed process (\d+) \(([^)]*)\)`)

// deathReason explains a payload exit code that says the payload was killed
// by a signal (the guest init reports a death by signal N as 128+N): by the
// OOM killer when the kernel log shows an OOM kill and the signal is SIGKILL,
// else by the signal's name. A failing exit names the process the OOM killer
// killed, if any (a child of the payload); exit 0 returns "".
func deathReason(exit, memoryMiB int, logs ...[]byte) string {
	if exit == 0 {
		return ""
	}
	var oom []string
	for _, l := range logs {
		if oom = oomKill.FindStringSubmatch(string(l)); oom != nil {
			break
		}
	}
	sig := syscall.Signal(exit - 128)
	signaled := signalExit(exit)
	mem := "guest memory"
	if memoryMiB > 0 {
		mem = fmt.Sprintf("guest memory %d MiB", memoryMiB)
	}
	switch {
	case signaled && sig == unix.SIGKILL && oom != nil:
		return fmt.Sprintf("payload killed by the OOM killer (%s; raise --memory)", mem)
	case signaled:
		return "payload killed by " + unix.SignalName(sig)
	case oom != nil:
		return fmt.Sprintf("the OOM killer killed %s (pid %s) (%s; raise --memory)", oom[2], oom[1], mem)
	}
	return ""
}

// signalExit reports whether a payload exit code stands for a death by a
// signal (128+N for a signal N the kernel knows).
func signalExit(exit int) bool {
	return exit > 128 && exit < 128+65 && unix.SignalName(syscall.Signal(exit-128)) != ""
}
