package qemu

import (
	"errors"
	"fmt"
)

// Architectures a guest may have, named as Go and Debian name them.
const (
	AMD64 = "amd64"
	ARM64 = "arm64"
)

// ErrUnknownArch is returned for an architecture QEMU is not set up to boot.
var ErrUnknownArch = errors.New("unknown architecture")

// machine is how QEMU emulates one guest architecture and how the guest sees
// its three channels (console, results, shell).
type machine struct {
	// binary is the QEMU system emulator.
	binary string
	// machine is QEMU's -machine value.
	machine string
	// console is the kernel's name for the console port.
	console string
	// early is the early console parameter: the kernel's first messages
	// reach the console even when the boot stops early.
	early string
	// pciSerial attaches results and shell as 16550 UARTs on PCI
	// (-device pci-serial) rather than as further -serial ports: the
	// aarch64 virt machine has a single PL011.
	pciSerial bool
	// extra are kernel parameters only this architecture knows.
	extra []string
	// tcgCPU is the -cpu value under TCG.
	tcgCPU string
}

// machines holds every architecture vmtest boots.
//
// amd64: the q35 machine's 8250 UARTs (on its LPC bridge's ISA bus); ttyS0
// is the console, ttyS1 the results, ttyS2 the shell. q35 rather than pc:
// a guest that drives a virtio-pci device (sharing, --share-host) enables
// the device's PCI interrupt link, and under TCG the pc machine's PIIX links
// (LNKA-D, routed through the ISA bridge's config space by ACPI methods)
// took 116-123 ms per boot on 6.1.176 where q35's GSI links take 6 ms.
//
// arm64: the virt machine's PL011 (ttyAMA0) is the console; results and
// shell are 16550 UARTs on PCI (ttyS0, ttyS1), which Debian's arm64 kernels
// drive with built-in code (SERIAL_8250_PCI=y, PCI_HOST_GENERIC=y), so no
// module is needed. virtio-console would need VIRTIO_MMIO or VIRTIO_PCI and
// VIRTIO_CONSOLE, which Debian builds as modules.
var machines = map[string]machine{
	AMD64: {
		binary: "qemu-system-x86_64", machine: "q35",
		console: "ttyS0", early: "earlyprintk=serial,ttyS0,115200",
		// Under TCG on a busy host the IO-APIC timer test times out and
		// the kernel panics with "IO-APIC + timer doesn't work!".
		extra:  []string{"no_timer_check"},
		tcgCPU: "max",
	},
	ARM64: {
		binary: "qemu-system-aarch64", machine: "virt",
		// earlycon finds the PL011 through the device tree's stdout-path.
		console: "ttyAMA0", early: "earlycon",
		pciSerial: true,
		// Pointer authentication stays, with QEMU's IMPDEF algorithm:
		// Debian's arm64 kernels sign and check return addresses in
		// every non-leaf function (ARM64_PTR_AUTH_KERNEL=y), and TCG
		// computes the architected QARMA5 cipher in software for each.
		// Measured on 6.1/arm64: a boot to a powering-off /init took a
		// quarter to a half of the QEMU CPU time. Only the PAC values
		// differ, which nothing but the CPU's own checks sees. Debian
		// 12's QEMU (7.2) has the property.
		tcgCPU: "max,pauth-impdef=on",
	},
}

// Arches returns the architectures vmtest can boot.
func Arches() []string { return []string{AMD64, ARM64} }

func lookup(arch string) (machine, error) {
	if arch == "" {
		arch = AMD64
	}
	m, ok := machines[arch]
	if !ok {
		return machine{}, fmt.Errorf("qemu: %w %q (want %s or %s)", ErrUnknownArch, arch, AMD64, ARM64)
	}
	return m, nil
}

// BinaryFor returns the QEMU system emulator for guests of arch.
func BinaryFor(arch string) (string, error) {
	m, err := lookup(arch)
	if err != nil {
		return "", err
	}
	return m.binary, nil
}

// Package returns the Debian package that holds the emulator for arch.
func Package(arch string) string {
	if arch == ARM64 {
		return "qemu-system-arm"
	}
	return "qemu-system-x86"
}
