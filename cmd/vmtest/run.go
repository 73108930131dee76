package main

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/hashicorp/go-multierror"
	"golang.org/x/term"

	"github.com/corematrix/corematrix/corereport"
	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/probes"
	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest"
	"github.com/corematrix/corematrix/vmtest/display"
)

func init() {
	register("run", "run a payload on a matrix of kernels and write reports", runCmd)
}

// runArgs is the command line of vmtest run.
type runArgs struct {
	kernels    []kernel.Kernel
	payload    []string
	reportDir  string
	jobs       int
	onFail     bool
	coreObject string
	vf         *vmFlags
	sf         *shareFlags
	kf         *kernelFlags
}

func parseRun(args []string) (*runArgs, error) {
	fs := newFlags("vmtest run", "vmtest run --kernels 5.10,6.1 [flags] -- PAYLOAD [ARGS...]",
		"Boots each kernel, runs PAYLOAD (a static binary; Go test binaries are run with test2json\n"+
			"framing) and writes a report directory. Flags come before the payload: what follows it\n"+
			"are the payload's arguments.")
	kl := addKernelFlag(fs, "kernels")
	a := &runArgs{}
	fs.IntVar(&a.jobs, "jobs", 0, "kernels booted at once (default: from cores and memory)")
	fs.StringVar(&a.reportDir, "report", "vmtest-report", "report directory `DIR`")
	fs.BoolVar(&a.onFail, "shell-on-fail", false, "with a single kernel: after a failing payload, open a shell in the guest on this terminal (only when stdin is a terminal and CI is not set)")
	fs.StringVar(&a.coreObject, "core-object", "", "BPF `OBJECT` whose loads are predicted offline per kernel (CO-RE against the kernel's BTF)")
	a.vf = addVMFlags(fs)
	a.sf = addShareFlags(fs, false)
	a.kf = addKernelFlags(fs)
	var err error
	if a.payload, err = fs.parse(args, false); err != nil {
		return nil, err
	}
	switch {
	case kl.kernels == nil:
		return nil, fs.failf("missing --kernels: which kernels to boot (e.g. --kernels 5.10,6.1)")
	case len(a.payload) == 0:
		return nil, fs.failf("missing payload: the binary to run, after the flags (-- PAYLOAD ARGS...)")
	case a.onFail && len(kl.kernels) != 1:
		return nil, fs.failf("--shell-on-fail needs exactly one kernel, got %d", len(kl.kernels))
	}
	a.kernels = kl.kernels
	return a, nil
}

func runCmd(ctx context.Context, args []string) error {
	a, err := parseRun(args)
	if err != nil {
		return err
	}
	cfg := vmtest.Config{
		Kernels: a.kernels,
		Payload: a.payload[0], Args: a.payload[1:],
		ReportDir: a.reportDir, Jobs: a.jobs,
	}
	a.vf.apply(&cfg)
	a.sf.apply(&cfg)
	if a.onFail {
		cfg.Shell = shellOnFail("vmtest run")
	}
	var check *argsCheck
	if a.coreObject != "" {
		if check, err = newArgsCheck(&cfg, a.coreObject, a.kf.cacheDir); err != nil {
			return err
		}
	}
	live := runDisplay(&cfg)
	// Download progress goes above the live lines, one line per step.
	resolver, err := a.kf.resolverTo(live.Writer())
	if err != nil {
		return usageError(err)
	}
	cfg.Resolver = resolver
	cfg.BusyboxFor = resolver.Busybox
	r, err := newRunner(cfg)
	if err != nil {
		return err
	}
	defer r.Close()

	var writeErrs []error
	live.Start()
	// The kernels that did not pass are in the table: Matrix's error says
	// nothing more.
	sum, _ := r.Matrix(ctx, func(res *vmtest.Result) {
		if err := report.WriteKernel(res.Dir, res.KernelResult); err != nil {
			writeErrs = append(writeErrs, err)
		}
	})
	live.Stop()
	if check != nil {
		if sum.Args, err = check.run(sum); err != nil {
			fmt.Fprintf(os.Stderr, "vmtest run: warning: %v\n", err)
		}
	}
	if err := report.WriteRun(a.reportDir, sum); err != nil {
		writeErrs = append(writeErrs, err)
	}
	fmt.Print(report.Terminal(sum))
	fmt.Fprintf(os.Stderr, "reports in %s\n", a.reportDir)
	return runExit(report.ExitCode(sum), writeErrs)
}

// runExit is the error of a run whose summary has code and whose reports
// could not all be written (writeErrs): a passing run that lost a report is
// an infrastructure failure.
func runExit(code int, writeErrs []error) error {
	if len(writeErrs) > 0 && code == exitOK {
		code = exitInfra
	}
	return exitWith(code, multierror.Append(nil, writeErrs...).ErrorOrNil())
}

// runDisplay makes the live per-kernel display of a run on stderr: redrawn
// lines on a terminal, plain lines in a log, GitHub folding under Actions.
// Warnings go above the live lines.
func runDisplay(cfg *vmtest.Config) *display.Display {
	mode := display.Plain
	switch {
	case os.Getenv("GITHUB_ACTIONS") == "true":
		mode = display.GitHub
	case cfg.Shell != nil:
		// No redrawn lines: the guest's shell may own the terminal.
	case term.IsTerminal(int(os.Stderr.Fd())):
		mode = display.TTY
	}
	d := display.New(os.Stderr, mode, kernelNames(cfg.Kernels))
	if mode == display.TTY {
		if w, _, err := term.GetSize(int(os.Stderr.Fd())); err == nil {
			d.Width = w
		}
	}
	d.Annotate = guard.Command
	cfg.Progress = d
	cfg.Log = d.Writer()
	return d
}

// argsCheck predicts, per kernel, the loads of a BPF object (--core-object)
// and, once the matrix is done, checks the arguments its kprobes read
// across every kernel that resolved, per architecture.
type argsCheck struct {
	predictors *archPredictor
}

// archPredictor predicts with the object built for each kernel's
// architecture (corereport.ObjectForArch): the x86 object for amd64 kernels,
// its arm64 build for arm64 kernels.
type archPredictor struct {
	object string
	mu     sync.Mutex
	byArch map[kernel.Arch]*corereport.Predictor
	cache  *corereport.BTFCache
}

func (a *archPredictor) Predict(ctx context.Context, k kernel.Kernel) (*report.Prediction, error) {
	p, err := a.forArch(k.Arch)
	if err != nil {
		return nil, err
	}
	return p.Predict(ctx, k)
}

// forArch returns the predictor of arch's build of the object ("" is the
// host's architecture).
func (a *archPredictor) forArch(arch kernel.Arch) (*corereport.Predictor, error) {
	if arch == "" {
		arch = kernel.HostArch()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.byArch[arch]; ok {
		return p, nil
	}
	obj := corereport.ObjectForArch(a.object, string(arch))
	p, err := corereport.NewPredictor(obj, a.cache, corereport.Options{MapFallbacks: probes.MapFallbacks})
	if err != nil {
		return nil, err
	}
	a.byArch[arch] = p
	return p, nil
}

// newArgsCheck sets cfg.Predictor to predict object's loads on each kernel.
func newArgsCheck(cfg *vmtest.Config, object, kernelCacheDir string) (*argsCheck, error) {
	if _, err := os.Stat(object); err != nil {
		return nil, usageError(fmt.Errorf("--core-object: %w", err))
	}
	btfDir, err := btfCacheDir("", kernelCacheDir)
	if err != nil {
		return nil, exitWith(exitInfra, err)
	}
	cache := newBTFCache(btfDir)
	predictor, err := corereport.NewPredictor(object, cache, corereport.Options{MapFallbacks: probes.MapFallbacks})
	if err != nil {
		return nil, usageError(fmt.Errorf("--core-object: %w", err))
	}
	ap := &archPredictor{object: object, cache: cache,
		byArch: map[kernel.Arch]*corereport.Predictor{kernel.HostArch(): predictor}}
	cfg.Predictor = ap
	return &argsCheck{predictors: ap}, nil
}

// run checks the argument reads across the kernels of sum that resolved,
// in order: each architecture's kernels with that architecture's build of
// the object (package argread reads x86-64 and arm64 pt_regs).
func (c *argsCheck) run(sum report.Summary) (*report.Args, error) {
	byArch := map[kernel.Arch][]kernel.Kernel{}
	arches := []kernel.Arch{}
	for _, k := range sum.Kernels {
		if !k.Kernel.Resolved() {
			continue
		}
		arch := k.Kernel.Arch
		if arch == "" {
			arch = kernel.HostArch()
		}
		if _, ok := byArch[arch]; !ok {
			arches = append(arches, arch)
		}
		byArch[arch] = append(byArch[arch], k.Kernel)
	}
	if len(arches) == 0 {
		arches = append(arches, kernel.HostArch())
	}
	var out *report.Args
	for _, arch := range arches {
		p, err := c.predictors.forArch(arch)
		if err != nil {
			return nil, err
		}
		a, err := p.Args(byArch[arch])
		if err != nil {
			return nil, err
		}
		out = mergeArgs(out, a.Report())
	}
	return out, nil
}

// mergeArgs adds the argument check of one architecture's kernels to
// those of the others.
func mergeArgs(all, one *report.Args) *report.Args {
	if all == nil {
		return one
	}
	all.Summary += "; " + one.Summary
	all.Drift += one.Drift
	all.Unknown += one.Unknown
	all.Notes = append(all.Notes, one.Notes...)
	return all
}
