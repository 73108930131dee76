package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest"
)

func init() {
	register("shell", "boot one kernel with the run's guest environment and open a shell in it on this terminal", shellCmd)
}

// shellCmd boots one kernel with the same guest environment as a run
// (mounts, memlock, lo, --file, --env, busybox) and relays an interactive
// shell on the guest's third serial port to this terminal. With a payload,
// the payload runs first and the shell follows. exit or Ctrl-D powers the
// guest off.
func shellCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("vmtest shell", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vmtest shell --kernel 6.1 [flags] [-- PAYLOAD [ARGS...]]")
		fs.PrintDefaults()
	}
	kernelName := fs.String("kernel", "", "the kernel: a version (6.1) or a bzImage path")
	vf := addVMFlags(fs)
	kf := addKernelFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *kernelName == "" {
		return usageOf(fs)
	}
	k, err := kernel.Parse(*kernelName)
	if err != nil {
		return usageError(fmt.Errorf("--kernel: %w", err))
	}
	resolver, err := kf.resolver()
	if err != nil {
		return usageError(err)
	}
	cfg := vmtest.Config{Kernels: []kernel.Kernel{k}, Resolver: resolver, Raw: true}
	if payload := fs.Args(); len(payload) > 0 {
		cfg.Payload, cfg.Args = payload[0], payload[1:]
	}
	vf.apply(&cfg)
	cfg.Shell = &vmtest.Shell{In: os.Stdin, Out: os.Stdout}
	r, err := newRunner(cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	dir, err := os.MkdirTemp("", "vmtest-shell-")
	if err != nil {
		return exitWith(exitInfra, err)
	}
	defer os.RemoveAll(dir)
	res := r.Kernel(ctx, k, dir, nil)
	return shellVerdict(k.Name, res)
}

// shellVerdict is the error of a shell session that did not end with the
// guest powering off normally (a panic, a guest that never booted).
func shellVerdict(kernel string, res *vmtest.Result) error {
	switch res.Outcome {
	case report.Pass, report.Fail:
		return nil // the shell ran; the payload's verdict, if any, was shown in it
	case report.Interrupted:
		return exitWith(report.ExitInterrupted, fmt.Errorf("kernel %s: %s", kernel, res.Reason))
	case report.InfraError, report.Unavailable:
		return exitWith(exitInfra, fmt.Errorf("kernel %s: %s: %s", kernel, res.Outcome, res.Reason))
	}
	msg := fmt.Sprintf("kernel %s: %s: %s", kernel, res.Outcome, res.Reason)
	if res.Trace != "" {
		msg += "\n" + res.Trace
	}
	return exitWith(exitFail, errors.New(msg))
}

// shellOnFail returns the shell for --shell-on-fail, or nil with a warning
// on stderr when no one can type into it: stdin is not a terminal, or CI is
// set.
func shellOnFail(cmd string) *vmtest.Shell {
	switch {
	case os.Getenv("CI") != "":
		fmt.Fprintf(os.Stderr, "%s: warning: --shell-on-fail ignored: CI is set\n", cmd)
		return nil
	case !term.IsTerminal(int(os.Stdin.Fd())):
		fmt.Fprintf(os.Stderr, "%s: warning: --shell-on-fail ignored: stdin is not a terminal\n", cmd)
		return nil
	}
	return &vmtest.Shell{OnFail: true, In: os.Stdin, Out: os.Stdout}
}
