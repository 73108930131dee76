package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/corematrix/corematrix/vmtest"
	"github.com/corematrix/corematrix/vmtest/report"
)

func init() {
	register("exec", "run one binary in one kernel; output and exit code pass through (go test -exec)", execCmd)
}

// execCmd runs one binary in one kernel. Its output is written to stdout and
// its exit code passed through, so that `go test -exec 'vmtest exec --kernel
// 6.1'` works; a run without a trustworthy verdict (panic, timeout, boot
// failure, broken result stream) is an error naming the reason, exiting 1
// (3 for infrastructure errors).
func execCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("vmtest exec", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vmtest exec --kernel 6.1 [flags] [--] BINARY [ARGS...]")
		fs.PrintDefaults()
	}
	kernel := fs.String("kernel", "", "the kernel: a version (6.1) or a bzImage path")
	keep := fs.String("keep", "", "keep the guest's console log and raw results stream in this directory")
	vf := addVMFlags(fs)
	kf := addKernelFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	payload := fs.Args()
	if *kernel == "" || len(payload) == 0 {
		return usageOf(fs)
	}
	resolve, err := kf.resolver()
	if err != nil {
		return usageError(err)
	}
	cfg := vmtest.Config{Kernels: []string{*kernel}, Resolve: resolve, Payload: payload[0], Args: payload[1:], Raw: true}
	vf.apply(&cfg)
	r, err := newRunner(cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	dir := *keep
	if dir == "" {
		dir, err = os.MkdirTemp("", "vmtest-exec-")
		if err != nil {
			return exitWith(exitInfra, err)
		}
		defer os.RemoveAll(dir)
	}
	res := r.Kernel(ctx, *kernel, dir, nil)
	os.Stdout.Write(res.Output)
	switch res.Outcome {
	case report.Pass, report.Fail:
		if res.ExitCode >= 0 {
			return exitWith(res.ExitCode, nil)
		}
	}
	msg := fmt.Sprintf("kernel %s: %s: %s", *kernel, res.Outcome, res.Reason)
	if res.Trace != "" {
		msg += "\n" + strings.TrimRight(res.Trace, "\n")
	}
	if *keep != "" {
		msg += "\nconsole log in " + filepath.Join(dir, vmtest.ConsoleFile)
	}
	if res.Outcome == report.Interrupted {
		return exitWith(report.ExitInterrupted, errors.New(msg))
	}
	code := exitFail
	if res.Outcome.Infrastructure() {
		code = exitInfra
	}
	return exitWith(code, errors.New(msg))
}
