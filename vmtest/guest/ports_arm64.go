//go:build arm64

package guest

// The serial ports of an arm64 guest (QEMU's virt machine, see
// vmtest/qemu): the console is the PL011 (ttyAMA0); results and shell are
// 16550 UARTs on PCI, which the kernel numbers from ttyS0.
const (
	// ResultsPort is the serial port that carries the results stream.
	ResultsPort = "/dev/ttyS0"
	// ShellPort is the serial port of the interactive shell (vmtest shell,
	// --shell-on-fail), relayed to the user's terminal.
	ShellPort = "/dev/ttyS1"
)
