package qemu

import (
	"fmt"
	"strconv"
	"strings"
)

// Binary is the QEMU system emulator vmtest runs for amd64 guests.
const Binary = "qemu-system-x86_64"

// Config describes one boot.
type Config struct {
	// Arch is the guest's architecture (AMD64, ARM64); empty means AMD64.
	Arch      string
	Kernel    string // kernel image path (bzImage, arm64 Image)
	Initramfs string // newc archive path
	Console   string // file receiving the kernel console (ttyS0; arm64: ttyAMA0)
	Results   string // file receiving the results stream (ttyS1; arm64: ttyS0)
	MemoryMiB int
	CPUs      int
	Accel     string   // "kvm" or "tcg"
	Append    []string // extra kernel command-line parameters
	// Shell, when set, is a Unix socket path QEMU listens on for the
	// interactive shell's port (ttyS2; arm64: ttyS1).
	Shell string
	// Extra are more arguments (shared directories' devices).
	Extra []string
}

// CommandLine returns the kernel command line for cfg: the console from the
// first message on (earlyprintk on amd64, earlycon on arm64, so "Linux
// version" appears even when the boot stops early), reboot on panic (QEMU
// exits, -no-reboot), soft lockups turned into panics so they end the run,
// and on amd64 no early timer IRQ check (no_timer_check): under TCG on a busy
// host the IO-APIC timer test times out and the kernel panics with "IO-APIC +
// timer doesn't work!". A parameter the kernel does not know would reach
// the init as an argument, so each architecture gets only its own.
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
func CommandLine(cfg Config) (string, error) {
	m, err := lookup(cfg.Arch)
	if err != nil {
		return "", err
	}
	p := []string{
		"console=" + m.console + ",115200",
		m.early,
		"quiet",
		"rcupdate.rcu_expedited=1",
		"panic=-1",
		"softlockup_panic=1",
	}
	p = append(p, m.extra...)
	p = append(p, "rdinit=/init")
	return strings.Join(append(p, cfg.Append...), " "), nil
}

// Args returns QEMU's arguments (without the binary) for cfg.
func Args(cfg Config) ([]string, error) {
	if cfg.Kernel == "" || cfg.Initramfs == "" || cfg.Console == "" || cfg.Results == "" {
		return nil, fmt.Errorf("qemu: kernel, initramfs, console and results paths are required")
	}
	if cfg.MemoryMiB <= 0 || cfg.CPUs <= 0 {
		return nil, fmt.Errorf("qemu: memory (%d MiB) and cpus (%d) must be positive", cfg.MemoryMiB, cfg.CPUs)
	}
	m, err := lookup(cfg.Arch)
	if err != nil {
		return nil, err
	}
	cmdline, err := CommandLine(cfg)
	if err != nil {
		return nil, err
	}
	var cpu, accel string
	switch cfg.Accel {
	case "kvm":
		cpu, accel = "host", "kvm"
	case "tcg":
		// One host thread for all vCPUs: multi-threaded TCG lets a vCPU run a
		// stale translation of code the kernel is live-patching (text_poke_bp
		// while a tracepoint attaches), which oopses on an int3 in __schedule.
		// arm64 kernels patch their text for probes the same way.
		cpu, accel = m.tcgCPU, "tcg,thread=single"
	default:
		return nil, fmt.Errorf("qemu: unknown accelerator %q", cfg.Accel)
	}
	args := []string{
		"-nodefaults", "-nographic", "-no-reboot",
		"-machine", m.machine, "-accel", accel, "-cpu", cpu,
		"-m", strconv.Itoa(cfg.MemoryMiB), "-smp", strconv.Itoa(cfg.CPUs),
		"-kernel", cfg.Kernel, "-initrd", cfg.Initramfs,
		"-append", cmdline,
		"-chardev", "file,id=console,path=" + escape(cfg.Console),
		"-serial", "chardev:console",
		"-chardev", "file,id=results,path=" + escape(cfg.Results),
	}
	args = append(args, m.port("results")...)
	if cfg.Shell != "" {
		args = append(args, "-chardev", "socket,id=shell,server=on,wait=off,path="+escape(cfg.Shell))
		args = append(args, m.port("shell")...)
	}
	return append(append(args, "-monitor", "none"), cfg.Extra...), nil
}

// port returns the arguments that give the guest a serial port on chardev
// id, in the order the guest numbers them.
func (m machine) port(id string) []string {
	if m.pciSerial {
		return []string{"-device", "pci-serial,chardev=" + id}
	}
	return []string{"-serial", "chardev:" + id}
}

// escape doubles commas, QEMU's option separator.
func escape(path string) string { return strings.ReplaceAll(path, ",", ",,") }
