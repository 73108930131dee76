package vmtest

import (
	"context"
	"io"
	"time"

	"github.com/corematrix/corematrix/vmtest/initramfs"
	"github.com/corematrix/corematrix/vmtest/report"
)

// Defaults for Config.
const (
	DefaultMemoryMiB = 1024
	DefaultCPUs      = 2
	DefaultTimeout   = 10 * time.Minute
)

// Config describes a run: one payload on one or more kernels.
type Config struct {
	// Kernels are the names to resolve ("6.1", a bzImage path, ...).
	Kernels []string
	// Resolve turns a name into an image; its error makes the kernel unavailable.
	Resolve Resolver
	// Predict, when set, is called per kernel after it resolved; its result
	// goes into KernelResult.Prediction (an error is reported as a warning).
	Predict func(ctx context.Context, k Kernel) (*report.Prediction, error)

	// Payload is the host path of the static executable to run in the guest.
	Payload string
	// Args are the payload's arguments. For a Go test binary (see GoTest)
	// the runner switches verbose output to -test.v=test2json, unless Raw.
	Args []string
	// Env holds extra KEY=VALUE pairs for the payload.
	Env []string
	// Files are extra files for the initramfs.
	Files []initramfs.File
	// Raw passes the payload's arguments and output through untouched (no
	// Go test parsing): what `vmtest exec` needs.
	Raw bool

	// AllowKernelWarnings keeps a run that passed but made the kernel report
	// a non-fatal splat (WARNING:, RCU stall, ...) a pass; the warnings are
	// listed in the result either way.
	AllowKernelWarnings bool

	// Init is the static guest init binary; empty means this executable.
	Init string
	// Busybox is the host's static busybox, packed into every guest as
	// /bin/busybox with its applet links (/bin/sh, ...); empty means
	// initramfs.BusyboxPath (Debian's busybox-static package). A missing
	// busybox is an error wrapping initramfs.ErrNoBusybox.
	Busybox string
	// QEMU is the emulator binary; empty means qemu-system-x86_64.
	QEMU string

	// ReportDir is the run's report root: each kernel gets a directory in it
	// (report.KernelDir) holding console.log and the raw results stream.
	ReportDir string
	// Jobs is how many kernels boot at once; 0 picks DefaultJobs.
	Jobs int
	// Timeout is the per-kernel deadline (boot, payload and power-off).
	Timeout time.Duration
	// MemoryMiB and CPUs size the guest.
	MemoryMiB int
	CPUs      int
	// Accel is "auto", "kvm" or "tcg".
	Accel string

	// Progress, when set, hears every state change of every kernel.
	Progress Progress
	// Log receives warnings (the accelerator fallback); nil discards them.
	Log io.Writer
}

// Progress hears the state of each kernel of a run. Calls may come from
// several goroutines at once.
type Progress interface {
	// Update reports that kernel (index i in Config.Kernels) entered state.
	// r is set when state is StateDone.
	Update(i int, kernel string, state State, r *report.KernelResult)
}
