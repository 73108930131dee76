package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"

	"github.com/hashicorp/go-multierror"
	"golang.org/x/term"

	"github.com/corematrix/corematrix/corereport"
	"github.com/corematrix/corematrix/probes"
	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest"
)

func init() {
	register("run", "run a payload on a matrix of kernels and write reports", runCmd)
}

func runCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("vmtest run", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vmtest run --kernels 5.10,6.1 [flags] -- PAYLOAD [ARGS...]")
		fs.PrintDefaults()
	}
	kernelList := fs.String("kernels", "", "comma-separated kernels: versions (6.1), images (path to a bzImage), ...")
	jobs := fs.Int("jobs", 0, "kernels booted at once (default: from cores and memory)")
	reportDir := fs.String("report", "vmtest-report", "report directory")
	onFail := fs.Bool("shell-on-fail", false, "with a single kernel: after a failing payload, open a shell in the guest on this terminal (only when stdin is a terminal and CI is not set)")
	coreObject := fs.String("core-object", "", "BPF object whose loads are predicted offline per kernel (CO-RE against the kernel's BTF)")
	vf := addVMFlags(fs)
	sf := addShareFlags(fs, false)
	kf := addKernelFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	payload := fs.Args()
	if len(payload) == 0 {
		return usageOf(fs)
	}
	names, err := parseKernels([]string{*kernelList})
	if err != nil {
		return usageError(fmt.Errorf("--kernels: %w", err))
	}
	cfg := vmtest.Config{
		Kernels: names,
		Payload: payload[0], Args: payload[1:],
		ReportDir: *reportDir, Jobs: *jobs,
	}
	vf.apply(&cfg)
	sf.apply(&cfg)
	if *onFail {
		if len(names) != 1 {
			return usageError(errors.New("--shell-on-fail needs exactly one kernel"))
		}
		cfg.Shell = shellOnFail("vmtest run")
	}
	// With a core object, every resolved kernel's image is kept for the
	// argument check across kernels, which runs once the matrix is done.
	var images resolvedImages
	var argsCheck func() (*report.Args, error)
	if *coreObject != "" {
		if _, err := os.Stat(*coreObject); err != nil {
			return usageError(fmt.Errorf("--core-object: %w", err))
		}
		btfDir, err := btfCacheDir("", kf.cacheDir)
		if err != nil {
			return exitWith(exitInfra, err)
		}
		predictor, err := corereport.NewPredictor(*coreObject, newBTFCache(btfDir), corereport.Options{MapFallbacks: probes.MapFallbacks})
		if err != nil {
			return usageError(fmt.Errorf("--core-object: %w", err))
		}
		cfg.Predict = func(ctx context.Context, k vmtest.Kernel) (*report.Prediction, error) {
			images.add(k)
			return predictor.Predict(k.Path, k.SHA256)
		}
		argsCheck = func() (*report.Args, error) {
			a, err := predictor.Args(images.inOrder(names))
			if err != nil {
				return nil, err
			}
			return a.Report(), nil
		}
	}

	mode := vmtest.ProgressPlain
	switch {
	case os.Getenv("GITHUB_ACTIONS") == "true":
		mode = vmtest.ProgressGitHub
	case cfg.Shell != nil:
		// No redrawn lines: the guest's shell may own the terminal.
	case term.IsTerminal(int(os.Stderr.Fd())):
		mode = vmtest.ProgressTTY
	}
	display := vmtest.NewProgress(os.Stderr, mode, names)
	if mode == vmtest.ProgressTTY {
		if w, _, err := term.GetSize(int(os.Stderr.Fd())); err == nil {
			display.Width = w
		}
	}
	cfg.Progress = display
	cfg.Log = display.Writer() // warnings go above the live lines
	// Download progress goes above the live lines too, one line per step.
	resolve, err := kf.resolverTo(display.Writer())
	if err != nil {
		return usageError(err)
	}
	cfg.Resolve = resolve

	r, err := newRunner(cfg)
	if err != nil {
		return err
	}
	defer r.Close()

	var writeErrs []error
	display.Start()
	sum, runErr := r.Matrix(ctx, func(res *vmtest.Result) {
		if err := report.WriteKernel(res.Dir, res.KernelResult); err != nil {
			writeErrs = append(writeErrs, err)
		}
	})
	display.Stop()
	if argsCheck != nil {
		if sum.Args, err = argsCheck(); err != nil {
			fmt.Fprintf(os.Stderr, "vmtest run: warning: %v\n", err)
		}
	}
	if err := report.WriteRun(*reportDir, sum); err != nil {
		writeErrs = append(writeErrs, err)
	}
	fmt.Print(report.Terminal(sum))
	fmt.Fprintf(os.Stderr, "reports in %s\n", *reportDir)
	code := report.ExitCode(sum)
	if len(writeErrs) > 0 && code == exitOK {
		code = exitInfra
	}
	return exitWith(code, multierror.Append(runErr, writeErrs...).ErrorOrNil())
}

// resolvedImages collects the kernels a run resolved, from every kernel's
// goroutine.
type resolvedImages struct {
	mu     sync.Mutex
	byName map[string]vmtest.Kernel
}

func (r *resolvedImages) add(k vmtest.Kernel) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byName == nil {
		r.byName = map[string]vmtest.Kernel{}
	}
	r.byName[k.Name] = k
}

// inOrder returns the resolved kernels in the order of names; unresolved
// ones are left out.
func (r *resolvedImages) inOrder(names []string) []corereport.Image {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []corereport.Image
	for _, n := range names {
		if k, ok := r.byName[n]; ok {
			out = append(out, corereport.Image{Name: n, Path: k.Path, SHA256: k.SHA256})
		}
	}
	return out
}
