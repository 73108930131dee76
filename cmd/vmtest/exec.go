package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/corematrix/corematrix/vmtest"
	"github.com/corematrix/corematrix/vmtest/report"
)

func init() {
	register("exec", "run one binary in one kernel; output and exit code pass through (go test -exec)", execCmd)
}

// execCmd runs one binary in one kernel. Its output is written to stdout and
// its exit code returned, so that `go test -exec 'vmtest exec --kernel 6.1'`
// works; a run without a trustworthy verdict (panic, timeout, boot failure,
// broken result stream) prints the reason on stderr and exits 1 (3 for
// infrastructure errors).
func execCmd(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("vmtest exec", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vmtest exec --kernel 6.1 [flags] [--] BINARY [ARGS...]")
		fs.PrintDefaults()
	}
	kernel := fs.String("kernel", "", "the kernel: a version (6.1) or a bzImage path")
	keep := fs.String("keep", "", "keep the guest's console log and raw results stream in this directory")
	vf := addVMFlags(fs)
	kf := addKernelFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	payload := fs.Args()
	if *kernel == "" || len(payload) == 0 {
		fs.Usage()
		return exitUsage
	}
	resolve, err := kf.resolver()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmtest exec:", err)
		return exitUsage
	}
	cfg := vmtest.Config{Kernels: []string{*kernel}, Resolve: resolve, Payload: payload[0], Args: payload[1:], Raw: true}
	vf.apply(&cfg)
	r, code := newRunner("vmtest exec", cfg)
	if r == nil {
		return code
	}
	defer r.Close()
	dir := *keep
	if dir == "" {
		dir, err = os.MkdirTemp("", "vmtest-exec-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "vmtest exec:", err)
			return exitInfra
		}
		defer os.RemoveAll(dir)
	}
	res := r.Kernel(ctx, *kernel, dir, nil)
	os.Stdout.Write(res.Output)
	switch res.Outcome {
	case report.Pass, report.Fail:
		if res.ExitCode >= 0 {
			return res.ExitCode
		}
	}
	fmt.Fprintf(os.Stderr, "vmtest exec: kernel %s: %s: %s\n", *kernel, res.Outcome, res.Reason)
	if res.Trace != "" {
		fmt.Fprint(os.Stderr, res.Trace)
	}
	if *keep != "" {
		fmt.Fprintf(os.Stderr, "vmtest exec: console log in %s\n", filepath.Join(dir, vmtest.ConsoleFile))
	}
	if res.Outcome.Infrastructure() {
		return exitInfra
	}
	return exitFail
}
