package vmtest

import (
	"context"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/corematrix/corematrix/internal/redact"
	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest/initramfs"
)

// Defaults for Config.
const (
	DefaultMemoryMiB = 1024
	DefaultCPUs      = 2
	DefaultTimeout   = 10 * time.Minute
	// DefaultWorkDirLimit caps the bytes of a packed working directory: the
	// guest holds them in memory, twice while the initramfs unpacks.
	DefaultWorkDirLimit = 128 << 20
)

// Config describes a run: one payload on one or more kernels.
type Config struct {
	// Kernels are the kernels to boot, as parsed from the command line
	// (kernel.Parse) or already resolved. Each is carried unchanged into its
	// result.
	Kernels []kernel.Kernel
	// Resolver finds the image of each kernel not yet resolved (see
	// kernel.Kernel.Resolved); its error makes the kernel unavailable.
	Resolver kernel.Resolver
	// Predictor, when set, predicts each kernel's program loads once it is
	// resolved; the prediction goes into KernelResult.Prediction (an error
	// is reported as a warning).
	Predictor Predictor

	// Payload is the host path of the static executable to run in the guest.
	Payload string
	// Args are the payload's arguments. For a Go test binary (see GoTest)
	// the runner switches verbose output to -test.v=test2json, unless Raw.
	Args []string
	// Env holds extra KEY=VALUE pairs for the payload.
	Env []string
	// Files are extra files for the guest, installed at their Name after
	// the guest mounted its file systems (so never shadowed by them).
	Files []initramfs.File
	// WorkDir is the payload's working directory in the guest (created when
	// missing); empty means guest.WorkDir (/tmp).
	WorkDir string
	// PackWorkDir packs the host directory WorkDir into the guest at the
	// same absolute path (initramfs.TreeLinks: VCS folders left out, links
	// out of the tree packed as links, not followed, and named in a warning
	// on Log, unless FollowWorkDirLinks), at most WorkDirLimit bytes (0
	// picks DefaultWorkDirLimit). Writes in the guest never reach the host.
	PackWorkDir        bool
	FollowWorkDirLinks bool
	WorkDirLimit       int64
	// ShareHost gives each guest the host's tools and source tree,
	// read-only at the same paths (see package share), on every kernel
	// that can mount them; the others fall back to packing (PackWorkDir)
	// and each result says which mode ran and why. ShareDirs are more
	// directories to share (--share DIR).
	ShareHost bool
	ShareDirs []string
	// MakeDirs are guest directories created before the payload starts.
	MakeDirs []string
	// CollectFiles and CollectDirs name what the payload writes for the
	// host (absolute paths, the same in the guest and on the host): the
	// files that exist after it exited, and the files it created under the
	// directories. They come back in Result.Files,
	// integrity-checked like the payload's output.
	CollectFiles, CollectDirs []string
	// Output, when set, gives the writers that receive a kernel's payload
	// stdout and stderr while the guest runs (as received: the verdict says
	// whether the stream was complete).
	Output func(kernel string) (stdout, stderr io.Writer)
	// Raw passes the payload's arguments and output through untouched (no
	// Go test parsing): what `vmtest exec` needs.
	Raw bool

	// Shell, when set, gives the guest an interactive busybox shell on the
	// user's terminal after the payload (see Shell). Payload may then be
	// empty: the shell starts right after the guest environment is set up.
	Shell *Shell

	// AllowKernelWarnings keeps a run that passed but made the kernel report
	// a non-fatal splat (WARNING:, RCU stall, ...) a pass; the warnings are
	// listed in the result either way.
	AllowKernelWarnings bool

	// Init is the static guest init binary; empty means this executable.
	// Guests of another architecture get its build for theirs (ForArch:
	// linux-ARCH/NAME beside it), and so does Payload.
	Init string
	// Busybox is the host's static busybox, packed into every guest as
	// /bin/busybox with its applet links (/bin/sh, ...); empty means
	// initramfs.BusyboxPath (Debian's busybox-static package). A missing
	// busybox is an error wrapping initramfs.ErrNoBusybox.
	Busybox string
	// BusyboxFor returns the host path of a static busybox built for guests
	// of arch, for guests whose architecture is not the host busybox's (an
	// arm64 kernel on an x86 host); nil refuses such guests.
	BusyboxFor func(ctx context.Context, arch string) (string, error)
	// QEMU is the emulator binary for every kernel; empty means the one for
	// each kernel's architecture (qemu-system-x86_64, qemu-system-aarch64).
	QEMU string

	// ReportDir is the run's report root: each kernel gets a directory in it
	// (report.KernelDir) holding console.log and the raw results stream.
	ReportDir string
	// OutputLimit is the budget for everything one guest sends back: the
	// results stream and console bytes on the wire, what its sections
	// decompress to, the files it returns. When it is exceeded QEMU is
	// stopped and the kernel fails ("guest output exceeded 256 MiB"). 0
	// means wire.DefaultLimit (256 MiB).
	OutputLimit int64
	// Jobs is how many kernels boot at once; 0 picks DefaultJobs.
	Jobs int
	// Timeout is the per-kernel deadline (boot, payload and power-off).
	Timeout time.Duration
	// Deadline, when set, ends the whole run of Matrix, shared by its
	// kernels (vmtest exec derives it from the time go test kills it): a
	// kernel gets Timeout or what is left before Deadline, whichever is
	// shorter, and a kernel whose turn comes with less than MinKernelTime
	// left does not start (outcome timeout, the reason saying so).
	Deadline time.Time
	// DeadlineNote says where Deadline comes from, for those reasons
	// ("go test stops waiting 1m after -test.timeout 10m0s").
	DeadlineNote string
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

// Predictor predicts offline how a BPF object's programs load on a kernel
// (corereport.Predictor is one).
type Predictor interface {
	Predict(ctx context.Context, k kernel.Kernel) (*report.Prediction, error)
}

// Progress hears the state of each kernel of a run. Calls may come from
// several goroutines at once.
type Progress interface {
	// Update reports that kernel (index i in Config.Kernels) entered state.
	// r is set when state is StateDone.
	Update(i int, kernel string, state State, r *report.KernelResult)
}

// GuestEnv names the host variables a payload inherits: what the Go
// runtime and the testing package read (GODEBUG, GOTRACEBACK, GOMAXPROCS,
// GOGC, GOMEMLIMIT, GOCOVERDIR) and CI. The guest has no Go toolchain and no
// network: GOFLAGS, GOPROXY, GOAUTH, GONOSUMDB, GOPRIVATE and the like (which
// may carry credentials) stay on the host, as does everything else; --env
// adds more.
var GuestEnv = []string{"CI", "GODEBUG", "GOTRACEBACK", "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GOCOVERDIR"}

// HostEnv picks from environ the variables GuestEnv names, with the
// userinfo of any URL in their values redacted.
func HostEnv(environ []string) []string {
	var env []string
	for _, e := range environ {
		name, _, _ := strings.Cut(e, "=")
		if slices.Contains(GuestEnv, name) {
			env = append(env, redact.URLs(e))
		}
	}
	return env
}

// Shell connects the guest's interactive shell (its third serial port) to
// a terminal. While the shell runs, In is in raw mode (when it is a
// terminal: keys such as Ctrl-C go to the guest) and the per-kernel deadline
// is off; exit or Ctrl-D in the shell powers the guest off.
type Shell struct {
	// OnFail starts the shell only after a payload that exited non-zero or
	// could not run.
	OnFail bool
	// In and Out are the user's terminal.
	In  *os.File
	Out io.Writer
}
