package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/term"

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
	fs := newFlags("vmtest shell", "vmtest shell --kernel 6.1 [flags] [-- PAYLOAD [ARGS...]]",
		"Boots one kernel with the guest environment of a run and relays an interactive shell in it\n"+
			"to this terminal (stdin and stdout must both be terminals). exit or Ctrl-D powers it off.\n"+
			"With a payload, it runs first. The kernel's console goes to --report DIR, else to a\n"+
			"temporary directory removed at the end.")
	kl := addKernelFlag(fs, "kernel")
	reportDir := fs.String("report", "", "keep the kernel's console log and results stream in `DIR` (DIR/KERNEL/console.log)")
	vf := addVMFlags(fs)
	kf := addKernelFlags(fs)
	payload, err := fs.parse(args, false)
	if err != nil {
		return err
	}
	if kl.kernels == nil {
		return fs.failf("missing --kernel: the kernel to boot (e.g. --kernel 6.1)")
	}
	if err := needTerminals(os.Stdin, os.Stdout); err != nil {
		return usageError(err)
	}
	k := kl.kernels[0]
	resolver, err := kf.resolver()
	if err != nil {
		return usageError(err)
	}
	cfg := vmtest.Config{Kernels: kl.kernels, Resolver: resolver, Raw: true}
	cfg.BusyboxFor = resolver.Busybox
	if len(payload) > 0 {
		cfg.Payload, cfg.Args = payload[0], payload[1:]
	}
	vf.apply(&cfg)
	cfg.Shell = &vmtest.Shell{In: os.Stdin, Out: os.Stdout}
	r, err := newRunner(cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	dir := *reportDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "vmtest-shell-"); err != nil {
			return exitWith(exitInfra, err)
		}
		defer os.RemoveAll(dir)
	}
	res := r.Kernel(ctx, k, report.KernelDir(dir, k.Name), nil)
	if *reportDir != "" {
		fmt.Fprintf(os.Stderr, "kernel console in %s\n", filepath.Join(res.Dir, vmtest.ConsoleFile))
	}
	return shellVerdict(k.Name, res)
}

// needTerminals refuses a shell that no one could type into or read: with
// stdin or stdout not a terminal, a shell would wait for input forever.
func needTerminals(in, out *os.File) error {
	switch {
	case !term.IsTerminal(int(in.Fd())):
		return errors.New("stdin is not a terminal: a shell needs one to type into (run it from an interactive terminal)")
	case !term.IsTerminal(int(out.Fd())):
		return errors.New("stdout is not a terminal: a shell needs one to show itself on")
	}
	return nil
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
