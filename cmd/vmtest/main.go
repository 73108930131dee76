// Command vmtest boots kernels in QEMU, runs a payload in each and reports a
// verdict per kernel. Run as PID 1 inside a guest, the same binary is the
// guest's init.
//
// Each subcommand lives in its own file and registers itself in commands.
// A subcommand parses its flags (cli.go), calls the packages that do the
// work and prints; it returns an error, and one that must end the process
// with a particular code returns an *exitError (see exitWith). main prints
// the error once, prefixed with the command's name, and exits with its code.
// The exit codes are report's (report.ExitOK ...), defined once.
//
// cmd/vmtest is the wiring: it is the only package that imports both the
// booting side (vmtest, kernels) and the offline side (corereport).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/hashicorp/go-multierror"

	"github.com/corematrix/corematrix/internal/redact"
	"github.com/corematrix/corematrix/internal/termtext"
	"github.com/corematrix/corematrix/internal/workflow"
	"github.com/corematrix/corematrix/report"
)

// Exit codes, defined once in package report and documented in README.md.
const (
	exitOK    = report.ExitOK
	exitFail  = report.ExitFail
	exitUsage = report.ExitUsage
	exitInfra = report.ExitInfra
)

// exitError ends the process with code. Err, when not nil, is what main
// prints; a nil Err exits silently (the command has already said everything,
// or passes a payload's exit code through). Usage, when set, is printed
// after the error line: the command's synopsis, for a bad command line.
type exitError struct {
	code  int
	err   error
	usage string
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

// exitCode prints err on stderr, one line per failure after prefix (an
// aggregate prints each of its errors, not go-multierror's "N errors
// occurred" list), then the command's synopsis when err carries one, unless
// err is nil or a silent *exitError, and returns codeOf(err).
func exitCode(stderr io.Writer, prefix string, err error) int {
	var ee *exitError
	if err == nil || errors.As(err, &ee) && ee == err && ee.err == nil {
		return codeOf(err)
	}
	for _, e := range flatten(err) {
		// Errors carry text from servers, images and guests: no control
		// characters.
		fmt.Fprintf(stderr, "%s: %s\n", prefix, termtext.Strip(redact.URLs(strings.TrimRight(e, "\n")), true))
	}
	if errors.As(err, &ee) && ee.usage != "" {
		fmt.Fprintf(stderr, "usage: %s\n", ee.usage)
	}
	return codeOf(err)
}

// flatten is the message of each failure in err: the errors of a
// go-multierror aggregate (anywhere in err's chain, with the context that
// wraps it) one by one, else err's message.
func flatten(err error) []string {
	var me *multierror.Error
	if !errors.As(err, &me) || len(me.Errors) == 0 {
		return []string{err.Error()}
	}
	// The text that wraps the aggregate: "fetch: %w" -> "fetch: ".
	whole, inner := err.Error(), me.Error()
	before, after, _ := strings.Cut(whole, inner)
	var out []string
	for _, e := range me.Errors {
		for _, m := range flatten(e) {
			out = append(out, before+m+strings.TrimRight(after, "\n"))
		}
	}
	return out
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

// stopSignals end a command cleanly: QEMU is stopped, temporary
// directories are removed, reports written. SIGPIPE is among them so that
// `vmtest exec ... | head -1` cleans up instead of dying on its next write;
// SIGHUP so that a closed terminal does too.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGPIPE}

func realMain(args []string) int {
	if len(args) == 0 {
		usage(os.Stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(os.Stdout)
		return exitOK
	case "-version", "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "vmtest: unknown command %q (vmtest --help lists the commands)\n", args[0])
		return exitUsage
	}
	ctx, stop := stopOnSignals(func(sig os.Signal) {
		if sig == syscall.SIGQUIT && args[0] == "exec" {
			// go test sends SIGQUIT to its -exec program a minute past
			// -timeout, and SIGKILL a few seconds later: say so at once,
			// since the test's own output cannot.
			fmt.Fprintln(os.Stderr, "vmtest exec: stopped by SIGQUIT (go test sends it when -timeout has run out by a minute): stopping QEMU and the file-sharing daemons")
		}
	})
	defer stop()
	// Under GitHub Actions, nothing a guest (or another shard's report)
	// prints may act as a workflow command: the whole command runs under
	// a random stop token, resumed after its last line.
	guard = workflow.Start(os.Stdout, os.Getenv("GITHUB_ACTIONS") == "true" && printsGuestText[args[0]])
	err := cmd.run(ctx, args[1:])
	guard.End()
	if sig, ok := context.Cause(ctx).(stopSignal); ok && sig.Signal == syscall.SIGPIPE {
		// The reader went away (vmtest exec ... | head -1): QEMU is
		// stopped and the temporary directories are gone; there is no one
		// to tell. Exit as a process killed by SIGPIPE reports itself.
		return 128 + int(syscall.SIGPIPE)
	}
	return exitCode(os.Stderr, "vmtest "+args[0], err)
}

// stopSignal is the cause of a context cancelled by a signal.
type stopSignal struct{ os.Signal }

func (s stopSignal) Error() string { return "stopped by " + s.String() }

// stopOnSignals returns a context cancelled, with a stopSignal as its cause,
// when one of stopSignals arrives (after calling onSignal with it); stop
// ends the watch.
func stopOnSignals(onSignal func(os.Signal)) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, stopSignals...)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			onSignal(sig)
			cancel(stopSignal{sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// guard stops workflow commands while a command prints guest text.
var guard *workflow.Guard

// printsGuestText names the commands that print what guests sent.
var printsGuestText = map[string]bool{"run": true, "exec": true, "shell": true, "bench": true, "load": true, "report": true}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vmtest COMMAND [flags] [ARGS...]   (vmtest COMMAND --help for a command's flags)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		if !strings.HasPrefix(n, "_") { // hidden: the guest side of a command
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\n"+exitCodesHelp)
}

// exitCodesHelp is the exit codes, as every command's help lists them.
var exitCodesHelp = fmt.Sprintf("exit codes: %d all passed, %d any failure, %d usage, %d infrastructure only, %d interrupted",
	report.ExitOK, report.ExitFail, report.ExitUsage, report.ExitInfra, report.ExitInterrupted)
