package qemu

import (
	"fmt"
	"strconv"
	"strings"
)

// Binary is the QEMU system emulator vmtest runs by default.
const Binary = "qemu-system-x86_64"

// Config describes one boot.
type Config struct {
	Kernel    string // bzImage path
	Initramfs string // newc archive path
	Console   string // file receiving ttyS0 (the kernel console)
	Results   string // file receiving ttyS1 (the results stream)
	MemoryMiB int
	CPUs      int
	Accel     string   // "kvm" or "tcg"
	Append    []string // extra kernel command-line parameters
	// Shell, when set, is a Unix socket path QEMU listens on for ttyS2, the
	// interactive shell's port.
	Shell string
}

// CommandLine returns the kernel command line for cfg: console on ttyS0 from
// the first message on (earlyprintk, so "Linux version" appears even when the
// boot stops early), reboot on panic (QEMU exits, -no-reboot), soft
// lockups turned into panics so they end the run, and no early timer IRQ
// check (no_timer_check): under TCG on a busy host the IO-APIC timer test
// times out and the kernel panics with "IO-APIC + timer doesn't work!".
//
// The console is quiet (errors and worse, plus the banner printed before
// the parameter takes effect): every byte on an emulated UART costs,
// hundreds of milliseconds per boot under TCG and one VM exit per byte under
// KVM. Panics, oopses and soft lockups still reach it (the kernel turns the
// console verbose for them); the full kernel log comes back in the results
// stream's kmsg section.
//
// RCU grace periods are expedited (rcupdate.rcu_expedited=1): attaching
// and detaching probes, loading programs and freeing maps wait for grace
// periods, which an idle guest otherwise ends only on timer ticks; under TCG
// that halved a suite's payload time. Only how long synchronize_rcu waits
// changes, not what it guarantees.
func CommandLine(cfg Config) string {
	p := []string{
		"console=ttyS0,115200",
		"earlyprintk=serial,ttyS0,115200",
		"quiet",
		"rcupdate.rcu_expedited=1",
		"panic=-1",
		"softlockup_panic=1",
		"no_timer_check",
		"rdinit=/init",
	}
	return strings.Join(append(p, cfg.Append...), " ")
}

// Args returns QEMU's arguments (without the binary) for cfg.
func Args(cfg Config) ([]string, error) {
	if cfg.Kernel == "" || cfg.Initramfs == "" || cfg.Console == "" || cfg.Results == "" {
		return nil, fmt.Errorf("qemu: kernel, initramfs, console and results paths are required")
	}
	if cfg.MemoryMiB <= 0 || cfg.CPUs <= 0 {
		return nil, fmt.Errorf("qemu: memory (%d MiB) and cpus (%d) must be positive", cfg.MemoryMiB, cfg.CPUs)
	}
	var cpu, accel string
	switch cfg.Accel {
	case "kvm":
		cpu, accel = "host", "kvm"
	case "tcg":
		// One host thread for all vCPUs: multi-threaded TCG lets a vCPU run a
		// stale translation of code the kernel is live-patching (text_poke_bp
		// while a tracepoint attaches), which oopses on an int3 in __schedule.
		cpu, accel = "max", "tcg,thread=single"
	default:
		return nil, fmt.Errorf("qemu: unknown accelerator %q", cfg.Accel)
	}
	args := []string{
		"-nodefaults", "-nographic", "-no-reboot",
		"-machine", "pc", "-accel", accel, "-cpu", cpu,
		"-m", strconv.Itoa(cfg.MemoryMiB), "-smp", strconv.Itoa(cfg.CPUs),
		"-kernel", cfg.Kernel, "-initrd", cfg.Initramfs,
		"-append", CommandLine(cfg),
		"-chardev", "file,id=console,path=" + escape(cfg.Console),
		"-serial", "chardev:console",
		"-chardev", "file,id=results,path=" + escape(cfg.Results),
		"-serial", "chardev:results",
		"-monitor", "none",
	}
	if cfg.Shell != "" {
		args = append(args,
			"-chardev", "socket,id=shell,server=on,wait=off,path="+escape(cfg.Shell),
			"-serial", "chardev:shell")
	}
	return args, nil
}

// escape doubles commas, QEMU's option separator.
func escape(path string) string { return strings.ReplaceAll(path, ",", ",,") }
