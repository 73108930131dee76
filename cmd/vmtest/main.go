// Command vmtest boots kernels in QEMU, runs a payload in each and reports a
// verdict per kernel. Run as PID 1 inside a guest, the same binary is the
// guest's init.
//
// Each subcommand lives in its own file and registers itself in commands.
// A subcommand returns an error; one that must end the process with a
// particular code returns an *exitError (see exitWith). main prints the
// error once, prefixed with the command's name, and exits with its code.
//
// cmd/vmtest is the wiring: it is the only package that imports both the
// booting side (vmtest, kernels) and the offline side (corereport).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/corematrix/corematrix/internal/termtext"
)

// Exit codes, documented in README.md.
const (
	exitOK    = 0 // every kernel passed
	exitFail  = 1 // at least one kernel failed (test failure, panic, timeout, boot failure)
	exitUsage = 2 // bad command line or input
	exitInfra = 3 // every failure was infrastructure (infra-error, unavailable)
)

// exitError ends the process with code. Err, when not nil, is what main
// prints; a nil Err exits silently (the command has already said everything,
// or passes a payload's exit code through).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitWith returns an error that makes main exit with code, printing err
// unless it is nil. exitWith(exitOK, nil) is nil.
func exitWith(code int, err error) error {
	if code == exitOK && err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// usageError is exitWith(exitUsage, err): a bad command line or input.
func usageError(err error) error { return exitWith(exitUsage, err) }

// codeOf is the process exit code err carries: exitOK for nil, that of the
// first *exitError in its chain, else exitInfra (the host could not do what
// was asked).
func codeOf(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitInfra
}

// exitCode prints err once on stderr, after prefix, unless it is nil or a
// silent *exitError, and returns codeOf(err).
func exitCode(stderr io.Writer, prefix string, err error) int {
	var ee *exitError
	if err != nil && !(errors.As(err, &ee) && ee == err && ee.err == nil) {
		// An aggregate (go-multierror) ends in blank lines. Errors carry
		// text from servers, images and guests: no control characters.
		fmt.Fprintf(stderr, "%s: %s\n", prefix, termtext.Strip(strings.TrimRight(err.Error(), "\n"), true))
	}
	return codeOf(err)
}

// command is one subcommand: it gets the arguments after its name.
type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string) error) {
	if _, dup := commands[name]; dup {
		panic("vmtest: command registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

func main() {
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
	defer stop()
	return exitCode(os.Stderr, "vmtest "+args[0], cmd.run(ctx, args[1:]))
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: vmtest COMMAND [flags] [-- PAYLOAD ARGS...]")
	fmt.Fprintln(os.Stderr, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		if !strings.HasPrefix(n, "_") { // hidden: the guest side of a command
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nexit codes: 0 all passed, 1 any failure, 2 usage, 3 infrastructure only")
}

// errHelp stops a command after -h: exit 0, the usage is printed.
var errHelp error = &exitError{code: exitOK}

// parseFlags parses args into fs. A non-nil error must be returned by the
// command as it is: errHelp after -h, a silent exitUsage after a bad flag
// (fs has printed why).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return exitWith(exitUsage, nil)
	}
	return nil
}

// usageOf prints fs's usage and returns a silent exitUsage.
func usageOf(fs *flag.FlagSet) error {
	fs.Usage()
	return exitWith(exitUsage, nil)
}
