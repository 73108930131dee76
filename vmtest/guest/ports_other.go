//go:build !arm64

package guest

// The serial ports of an amd64 guest (QEMU's q35 machine, see vmtest/qemu):
// ttyS0 is the console.
const (
	// ResultsPort is the serial port that carries the results stream.
	ResultsPort = "/dev/ttyS1"
	// ShellPort is the serial port of the interactive shell (vmtest shell,
	// --shell-on-fail), relayed to the user's terminal.
	ShellPort = "/dev/ttyS2"
)
