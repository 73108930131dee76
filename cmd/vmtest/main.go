// Command vmtest boots kernels in QEMU, runs a payload in each and reports a
// verdict per kernel. Run as PID 1 inside a guest, the same binary is the
// guest's init.
//
// Each subcommand lives in its own file and registers itself in commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit codes, documented in README.md.
const (
	exitOK    = 0 // every kernel passed
	exitFail  = 1 // at least one kernel failed (test failure, panic, timeout, boot failure)
	exitUsage = 2 // bad command line or input
	exitInfra = 3 // every failure was infrastructure (infra-error, unavailable)
)

// command is one subcommand: it gets the arguments after its name and returns
// the process exit code.
type command struct {
	summary string
	run     func(ctx context.Context, args []string) int
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string) int) {
	if _, dup := commands[name]; dup {
		panic("vmtest: command registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

func main() {
	if os.Getpid() == 1 {
		guestInit() // never returns
	}
	os.Exit(realMain(os.Args[1:]))
}

func realMain(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "vmtest: unknown command %q\n\n", args[0])
		usage()
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cmd.run(ctx, args[1:])
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: vmtest COMMAND [flags] [-- PAYLOAD ARGS...]")
	fmt.Fprintln(os.Stderr, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nexit codes: 0 all passed, 1 any failure, 2 usage, 3 infrastructure only")
}

// parseFlags parses args into fs. When ok is false the command must return
// code: exitOK after -h, exitUsage after a bad flag (fs has printed why).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}
