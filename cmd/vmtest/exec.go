package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-multierror"
	"golang.org/x/sys/unix"

	"github.com/corematrix/corematrix/internal/beneath"
	"github.com/corematrix/corematrix/internal/termtext"
	"github.com/corematrix/corematrix/internal/workflow"
	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest"
	"github.com/corematrix/corematrix/vmtest/gotest"
)

func init() {
	register("exec", "run one binary in one kernel or several; output and exit code pass through (go test -exec)", execCmd)
}

// bootMargin is added to a Go test binary's -test.timeout to make the VM
// deadline: boot and power-off under TCG on a busy host. It stays below the
// minute go test waits past -timeout before it kills the command.
const bootMargin = 45 * time.Second

// goTestWait is how long go test waits past -timeout before it kills the
// command it runs the test binary with (cmd/go's testKillTimeout).
const goTestWait = time.Minute

// reportMargin is kept at the end of go test's wait for stopping QEMU and
// writing the table and the reports.
const reportMargin = 10 * time.Second

// runDeadline is when every kernel of a run that go test started at start
// with -test.timeout d must be done: go test kills vmtest exec d + 1m after
// it started it, whatever the number of kernels still waiting for a slot.
func runDeadline(start time.Time, d time.Duration) time.Time {
	return start.Add(d + goTestWait - reportMargin)
}

// execArgs is the command line of vmtest exec.
type execArgs struct {
	kernels   []kernel.Kernel
	payload   []string
	jobs      int
	reportDir string
	keep      string
	onFail    bool
	workdir   string
	noWorkdir bool
	// followLinks packs what links out of the working directory point at.
	followLinks bool
	fs          *flags
	vf          *vmFlags
	sf          *shareFlags
	kf          *kernelFlags
}

func parseExec(args []string) (*execArgs, error) {
	fs := newFlags("vmtest exec", "vmtest exec --kernel 6.1 | --kernels 5.10,6.1,6.12 [flags] [--] BINARY [ARGS...]",
		"Runs BINARY in each kernel. With one kernel its output and exit code pass through (go test -exec\n"+
			"'vmtest exec --kernel 6.1'); with several, each line is prefixed with its kernel and a table\n"+
			"of outcomes ends the run. Flags come before BINARY: what follows it are its arguments.")
	kl := addKernelFlag(fs, "kernel", "kernels")
	a := &execArgs{fs: fs}
	fs.IntVar(&a.jobs, "jobs", 0, "with --kernels: kernels booted at once (default: from cores and memory)")
	fs.StringVar(&a.reportDir, "report", "", "write the report directory vmtest run writes (summary, per-kernel logs) into `DIR`")
	fs.StringVar(&a.keep, "keep", "", "keep the guest's console log and raw results stream in `DIR`")
	fs.BoolVar(&a.onFail, "shell-on-fail", false, "with one kernel: after a failing payload, open a shell in the guest on this terminal (only when stdin is a terminal and CI is not set)")
	fs.StringVar(&a.workdir, "workdir", "", "`DIR` packed into the guest at the same path, where the payload starts (default: the current directory)")
	fs.BoolVar(&a.noWorkdir, "no-workdir", false, "pack no directory: the payload starts in an empty directory at the current directory's path")
	fs.BoolVar(&a.followLinks, "follow-links", false, "pack the files and directories that symbolic links leaving the working directory point at (default: such links are packed as links, not followed, and listed in a warning)")
	a.vf = addVMFlags(fs)
	a.sf = addShareFlags(fs, true)
	a.kf = addKernelFlags(fs)
	var err error
	if a.payload, err = fs.parse(args, false); err != nil {
		return nil, err
	}
	a.kernels = kl.kernels
	switch {
	case a.kernels == nil:
		return nil, fs.failf("missing --kernel (one kernel, e.g. --kernel 6.1) or --kernels (several, e.g. --kernels 5.10,6.1)")
	case len(a.payload) == 0:
		return nil, fs.failf("missing binary: the program to run, after the flags (-- BINARY ARGS...)")
	case a.onFail && len(a.kernels) != 1:
		return nil, fs.failf("--shell-on-fail needs exactly one kernel, got %d", len(a.kernels))
	case a.keep != "" && a.reportDir != "":
		return nil, fs.failf("--keep and --report exclude each other")
	case a.workdir != "" && a.noWorkdir:
		return nil, fs.failf("--workdir and --no-workdir exclude each other")
	}
	return a, nil
}

// execCmd runs one binary in one kernel, or in each of several. With one
// kernel its stdout and stderr stream through as they are and its exit code
// passes through, so that `go test -exec 'vmtest exec --kernel 6.1'` works;
// a run without a trustworthy verdict (panic, timeout, boot failure, broken
// result stream) is an error naming the reason, exiting 1 (3 for
// infrastructure errors). With several kernels every output line is
// prefixed with its kernel, a table of outcomes ends the run, and the exit
// code is 0 only when every kernel passed.
func execCmd(ctx context.Context, args []string) error {
	start := time.Now()
	a, err := parseExec(args)
	if err != nil {
		return err
	}
	resolver, err := a.kf.resolver()
	if err != nil {
		return usageError(err)
	}
	cfg := vmtest.Config{Kernels: a.kernels, Resolver: resolver, Payload: a.payload[0], Args: a.payload[1:], Raw: true, Jobs: a.jobs}
	cfg.BusyboxFor = resolver.Busybox
	a.vf.apply(&cfg)
	a.sf.apply(&cfg)
	if a.onFail {
		cfg.Shell = shellOnFail("vmtest exec")
	}
	if err := execWorkdir(&cfg, a.workdir, a.noWorkdir); err != nil {
		return usageError(err)
	}
	cfg.FollowWorkDirLinks = a.followLinks
	if d := gotest.Timeout(cfg.Args); d > 0 {
		if !a.fs.set("timeout") {
			cfg.Timeout = d + bootMargin
		}
		// Kernels waiting for a slot (--jobs) share go test's time.
		cfg.Deadline = runDeadline(start, d)
		cfg.DeadlineNote = fmt.Sprintf("go test kills vmtest exec %s after it started it: -test.timeout %s + %s", d+goTestWait, d, goTestWait)
	}
	dir := a.reportDir
	if dir == "" {
		dir = a.keep
	}
	if dir == "" {
		dir, err = os.MkdirTemp("", "vmtest-exec-")
		if err != nil {
			return exitWith(exitInfra, err)
		}
		defer os.RemoveAll(dir)
	}
	if len(a.kernels) == 1 && a.reportDir == "" {
		return execOne(ctx, cfg, a.kernels[0], dir, a.keep != "")
	}
	cfg.ReportDir = dir
	if a.reportDir != "" && gotest.Is(cfg.Payload, cfg.Args) && gotest.VerbosityOf(cfg.Args) == gotest.Quiet {
		// The report records every test, as vmtest run's does: the binary
		// runs with test2json framing, shown as -test.v output.
		cfg.Raw = false
	}
	return execMany(ctx, cfg, a.reportDir != "")
}

// execOne runs the binary in one kernel, its output streaming through.
func execOne(ctx context.Context, cfg vmtest.Config, k kernel.Kernel, dir string, kept bool) error {
	var stdout, stderr io.Writer = os.Stdout, os.Stderr
	if guard.Active() {
		// Under GitHub Actions no guest line may read as a workflow command.
		o, e := workflow.NewWriter(os.Stdout), workflow.NewWriter(os.Stderr)
		defer o.Flush()
		defer e.Flush()
		stdout, stderr = o, e
	}
	cfg.Output = func(string) (io.Writer, io.Writer) { return stdout, stderr }
	r, err := newRunner(cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	res := r.Kernel(ctx, k, dir, nil)
	err = writeFiles(cfg, []*vmtest.Result{res})
	printRefused(os.Stderr, res)
	if err != nil {
		return exitWith(exitInfra, err)
	}
	// The payload's own exit code passes through, unless the kernel failed
	// a run the payload passed (a kernel warning).
	// A death by a signal is said, as run says it (exit 128+N).
	switch {
	case res.Outcome == report.Fail && diedOfSignal(res.ExitCode):
		return exitWith(res.ExitCode, fmt.Errorf("kernel %s: %s", k.Name, res.Reason))
	case res.Outcome == report.Pass || res.Outcome == report.Fail && res.ExitCode > 0:
		return exitWith(res.ExitCode, nil)
	}
	msg := fmt.Sprintf("kernel %s: %s: %s", k.Name, res.Outcome, termtext.Line(res.Reason))
	if res.Trace != "" {
		msg += "\n" + workflow.Neutral(strings.TrimRight(res.Trace, "\n"))
	}
	if kept {
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

// execMany runs the binary in each kernel, cfg.Jobs at a time: every line
// of output is prefixed with its kernel ("6.1 | "), the outcome table ends
// the run, and the report directory is written when asked for.
func execMany(ctx context.Context, cfg vmtest.Config, writeReport bool) error {
	flush := execOutput(&cfg)
	r, err := newRunner(cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	var results []*vmtest.Result
	var writeErrs []error
	sum, _ := r.Matrix(ctx, func(res *vmtest.Result) {
		results = append(results, res)
	})
	flush()
	// Files in the order of the kernel list, whatever order they finished in.
	order := map[string]int{}
	for i, k := range cfg.Kernels {
		order[k.Name] = i
	}
	sorted := make([]*vmtest.Result, len(cfg.Kernels))
	for _, res := range results {
		sorted[order[res.Kernel.Name]] = res
	}
	if err := writeFiles(cfg, sorted); err != nil {
		writeErrs = append(writeErrs, err)
	}
	for i, res := range sorted {
		if res == nil {
			continue
		}
		printRefused(os.Stderr, res)
		if i < len(sum.Kernels) && sum.Kernels[i].Kernel.Name == res.Kernel.Name {
			sum.Kernels[i].Refused = res.Refused
		}
		if writeReport {
			if err := report.WriteKernel(res.Dir, res.KernelResult); err != nil {
				writeErrs = append(writeErrs, err)
			}
		}
	}
	if writeReport {
		if err := report.WriteRun(cfg.ReportDir, sum); err != nil {
			writeErrs = append(writeErrs, err)
		}
	}
	fmt.Fprint(os.Stderr, report.Terminal(sum))
	if writeReport {
		fmt.Fprintf(os.Stderr, "reports in %s\n", cfg.ReportDir)
	}
	code := report.ExitCode(sum)
	if len(writeErrs) > 0 && code == exitOK {
		code = exitInfra
	}
	return exitWith(code, multierror.Append(nil, writeErrs...).ErrorOrNil())
}

// execOutput sets cfg.Output for several kernels and returns the function
// that writes every partial last line at the end. Each line is prefixed
// with its kernel ("6.1 | "), and a Go test's framing for vmtest's own
// parsing is shown as -test.v output; but the framed output that go test
// -json asked for (-test.v=test2json) goes to stdout unprefixed, each
// kernel's tests renamed "KERNEL/TestX" (gotest.Interleaver), so that
// test2json tells the kernels' tests apart.
func execOutput(cfg *vmtest.Config) (flush func()) {
	width := 0
	for _, k := range cfg.Kernels {
		width = max(width, len(k.Name))
	}
	var mu sync.Mutex
	var writers []*prefixWriter
	plain := !cfg.Raw // the runner asked for test2json framing itself
	var il *gotest.Interleaver
	var neutral *workflow.Writer
	if cfg.Raw && gotest.Is(cfg.Payload, cfg.Args) && gotest.VerbosityOf(cfg.Args) == gotest.Framed {
		var w io.Writer = os.Stdout
		if guard.Active() {
			neutral = workflow.NewWriter(os.Stdout)
			w = neutral
		}
		il = gotest.NewInterleaver(w)
	}
	cfg.Output = func(kernel string) (io.Writer, io.Writer) {
		p := fmt.Sprintf("%-*s | ", width, kernel)
		o := &prefixWriter{mu: &mu, w: os.Stdout, prefix: p, plain: plain, neutral: guard.Active()}
		e := &prefixWriter{mu: &mu, w: os.Stderr, prefix: p, plain: plain, neutral: guard.Active()}
		mu.Lock()
		writers = append(writers, o, e)
		mu.Unlock()
		if il != nil {
			return il.Writer(kernel), e
		}
		return o, e
	}
	return func() {
		for _, w := range writers {
			w.Flush()
		}
		if il != nil {
			il.Flush()
		}
		if neutral != nil {
			neutral.Flush()
		}
	}
}

// prefixWriter writes whole lines to w, each after prefix; a partial last
// line waits for its newline (or Flush). With neutral set, no line reads as
// a GitHub workflow command (the legacy "##[" form is found anywhere in a
// line, after the prefix too).
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
	// plain shows test2json-framed lines as -test.v prints them.
	plain   bool
	neutral bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	var out []byte
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := p.buf[:i+1]
		p.buf = p.buf[i+1:]
		if p.plain {
			if line = gotest.Plain(line); len(line) == 0 {
				continue
			}
		}
		out = append(out, p.prefix...)
		out = append(out, line...)
	}
	if len(out) > 0 {
		if p.neutral {
			out = []byte(workflow.Neutral(string(out)))
		}
		p.w.Write(out)
	}
	return len(b), nil
}

// Flush writes a partial last line.
func (p *prefixWriter) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		out := append(append([]byte(p.prefix), p.buf...), '\n')
		if p.neutral {
			out = []byte(workflow.Neutral(string(out)))
		}
		p.w.Write(out)
		p.buf = nil
	}
}

// execWorkdir sets where the payload starts and what it writes for the
// host: the working directory travels (packed at the same path) unless
// noWorkdir; the files named by a Go test binary's flags come back.
func execWorkdir(cfg *vmtest.Config, workdir string, noWorkdir bool) error {
	dir := workdir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		dir = wd
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if dir == "/" && !noWorkdir {
		return errors.New("the working directory is /: pack another with --workdir DIR, or none with --no-workdir")
	}
	cfg.WorkDir, cfg.PackWorkDir = dir, !noWorkdir
	out := gotest.FindOutputs(cfg.Args, cfg.Env, dir)
	cfg.CollectFiles, cfg.CollectDirs = out.Files, out.Dirs
	cfg.MakeDirs = append([]string(nil), out.Dirs...)
	for _, f := range out.Files {
		cfg.MakeDirs = append(cfg.MakeDirs, filepath.Dir(f))
	}
	return nil
}

// writeFiles writes what the payload wrote for the host at the same paths,
// and records in each result the files it refused. When several kernels
// sent the same file, a coverage profile is merged (go tool cover adds up
// the blocks) and any other file is the first kernel's (in list order).
//
// Only the files go test names come back (gotest.Outputs.Place): the
// profiles its flags name, coverage files in the coverage directories, the
// -artifacts tree. Each is created beneath its directory without following
// any link, without execute bits, and, unless a flag named it, only where
// no file existed. The error is a host failure (a directory that cannot be
// opened); refusals are not errors.
func writeFiles(cfg vmtest.Config, results []*vmtest.Result) error {
	outs := gotest.FindOutputs(cfg.Args, cfg.Env, cfg.WorkDir)
	cover := gotest.CoverProfile(cfg.Args, cfg.WorkDir)
	data := map[string][]byte{}
	modes := map[string]os.FileMode{}
	from := map[string]*vmtest.Result{}
	var order []string
	for _, res := range results {
		if res == nil {
			continue
		}
		for _, f := range res.Files {
			prev, seen := data[f.Path]
			switch {
			case !seen:
				data[f.Path], modes[f.Path], from[f.Path] = f.Data, f.Mode, res
				order = append(order, f.Path)
			case f.Path == cover:
				data[f.Path] = mergeCoverProfiles(prev, f.Data)
			}
		}
	}
	var errs []error
	for _, p := range order {
		res := from[p]
		place, err := outs.Place(p)
		if err == nil {
			err = writeReturned(place, data[p], modes[p])
		}
		if err != nil {
			res.Refused = append(res.Refused, report.RefusedFile{Path: p, Reason: err.Error()})
			if !errors.Is(err, gotest.ErrNotNamed) && !errors.Is(err, beneath.ErrLink) && !errors.Is(err, beneath.ErrExists) && !errors.Is(err, beneath.ErrEscape) && !errors.Is(err, beneath.ErrNotRegular) {
				errs = append(errs, fmt.Errorf("write %s: %w", p, err))
			}
		}
	}
	return multierror.Append(nil, errs...).ErrorOrNil()
}

// writeReturned writes one returned file at place: read-write for its
// owner, read for others, never executable.
func writeReturned(place gotest.Place, data []byte, mode os.FileMode) error {
	root, err := beneath.Open(place.Root)
	if err != nil {
		return err
	}
	defer root.Close()
	how := beneath.Exclusive
	if place.Named {
		how = beneath.Replace
	}
	err = root.WriteFile(place.Rel, data, (mode&0o644)|0o600, how)
	if errors.Is(err, beneath.ErrExists) {
		// The runtime writes a coverage meta file once per binary: the same
		// bytes from an earlier run are no conflict.
		if f, oerr := root.Open(place.Rel); oerr == nil {
			old, rerr := io.ReadAll(io.LimitReader(f, int64(len(data))+1))
			f.Close()
			if rerr == nil && bytes.Equal(old, data) {
				return nil
			}
		}
		return fmt.Errorf("%w (it existed before the run)", err)
	}
	return err
}

// printRefused warns on stderr about each file a kernel sent back that was
// not written (the paths come from the guest: control characters removed).
func printRefused(w io.Writer, res *vmtest.Result) {
	for _, r := range res.Refused {
		fmt.Fprintf(w, "vmtest: kernel %s: refused returned file %s: %s\n", termtext.Line(res.Kernel.Name), termtext.Line(strconv.Quote(r.Path)), termtext.Line(r.Reason))
	}
}

// mergeCoverProfiles appends b's blocks to a, dropping b's mode line.
func mergeCoverProfiles(a, b []byte) []byte {
	if _, rest, ok := bytes.Cut(b, []byte("\n")); ok && bytes.HasPrefix(b, []byte("mode:")) {
		b = rest
	}
	out := append([]byte(nil), a...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, b...)
}

// diedOfSignal reports whether a payload's exit code stands for a death by
// a signal: the guest init reports signal N as 128+N.
func diedOfSignal(exit int) bool {
	return exit > 128 && exit < 128+65 && unix.SignalName(syscall.Signal(exit-128)) != ""
}
