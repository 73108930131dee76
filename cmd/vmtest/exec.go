package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/corematrix/corematrix/internal/beneath"
	"github.com/corematrix/corematrix/internal/termtext"
	"github.com/corematrix/corematrix/internal/workflow"
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

// execCmd runs one binary in one kernel, or in each of several. With one
// kernel its stdout and stderr stream through as they are and its exit code
// passes through, so that `go test -exec 'vmtest exec --kernel 6.1'` works;
// a run without a trustworthy verdict (panic, timeout, boot failure, broken
// result stream) is an error naming the reason, exiting 1 (3 for
// infrastructure errors). With several kernels every output line is
// prefixed with its kernel, a table of outcomes ends the run, and the exit
// code is 0 only when every kernel passed.
func execCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("vmtest exec", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vmtest exec --kernel 6.1 | --kernels 5.10,6.1,6.12 [flags] [--] BINARY [ARGS...]")
		fs.PrintDefaults()
	}
	kernel := fs.String("kernel", "", "the kernel: a version (6.1) or a bzImage path")
	kernelList := fs.String("kernels", "", "several kernels, comma-separated: the binary runs in each")
	jobs := fs.Int("jobs", 0, "with --kernels: kernels booted at once (default: from cores and memory)")
	reportDir := fs.String("report", "", "write the report directory `vmtest run` writes (summary, per-kernel logs)")
	keep := fs.String("keep", "", "keep the guest's console log and raw results stream in this directory")
	onFail := fs.Bool("shell-on-fail", false, "with one kernel: after a failing payload, open a shell in the guest on this terminal (only when stdin is a terminal and CI is not set)")
	workdir := fs.String("workdir", "", "directory packed into the guest at the same path, where the payload starts (default: the current directory)")
	noWorkdir := fs.Bool("no-workdir", false, "pack no directory: the payload starts in an empty directory at the current directory's path")
	vf := addVMFlags(fs)
	kf := addKernelFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	payload := fs.Args()
	if (*kernel == "") == (*kernelList == "") || len(payload) == 0 {
		return usageOf(fs)
	}
	names := []string{*kernel}
	if *kernelList != "" {
		var err error
		if names, err = parseKernels([]string{*kernelList}); err != nil {
			return usageError(fmt.Errorf("--kernels: %w", err))
		}
	}
	if *onFail && len(names) != 1 {
		return usageError(errors.New("--shell-on-fail needs exactly one kernel"))
	}
	if *keep != "" && *reportDir != "" {
		return usageError(errors.New("--keep and --report exclude each other"))
	}
	resolve, err := kf.resolver()
	if err != nil {
		return usageError(err)
	}
	cfg := vmtest.Config{Kernels: names, Resolve: resolve, Payload: payload[0], Args: payload[1:], Raw: true, Jobs: *jobs}
	vf.apply(&cfg)
	if *onFail {
		cfg.Shell = shellOnFail("vmtest exec")
	}
	if err := execWorkdir(&cfg, *workdir, *noWorkdir); err != nil {
		return usageError(err)
	}
	if !flagSet(fs, "timeout") {
		if d := gotest.Timeout(cfg.Args); d > 0 {
			cfg.Timeout = d + bootMargin
		}
	}
	dir := *reportDir
	if dir == "" {
		dir = *keep
	}
	if dir == "" {
		dir, err = os.MkdirTemp("", "vmtest-exec-")
		if err != nil {
			return exitWith(exitInfra, err)
		}
		defer os.RemoveAll(dir)
	}
	if len(names) == 1 && *reportDir == "" {
		return execOne(ctx, cfg, names[0], dir, *keep != "")
	}
	cfg.ReportDir = dir
	return execMany(ctx, cfg, *reportDir != "")
}

// execOne runs the binary in one kernel, its output streaming through.
func execOne(ctx context.Context, cfg vmtest.Config, name, dir string, kept bool) error {
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
	res := r.Kernel(ctx, name, dir, nil)
	err = writeFiles(cfg, []*vmtest.Result{res})
	printRefused(os.Stderr, res)
	if err != nil {
		return exitWith(exitInfra, err)
	}
	// The payload's own exit code passes through, unless the kernel failed
	// a run the payload passed (a kernel warning).
	if res.Outcome == report.Pass || res.Outcome == report.Fail && res.ExitCode > 0 {
		return exitWith(res.ExitCode, nil)
	}
	msg := fmt.Sprintf("kernel %s: %s: %s", name, res.Outcome, termtext.Line(res.Reason))
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
	width := 0
	for _, n := range cfg.Kernels {
		width = max(width, len(n))
	}
	var mu sync.Mutex
	var writers []*prefixWriter
	cfg.Output = func(kernel string) (io.Writer, io.Writer) {
		p := fmt.Sprintf("%-*s | ", width, kernel)
		o := &prefixWriter{mu: &mu, w: os.Stdout, prefix: p, neutral: guard.Active()}
		e := &prefixWriter{mu: &mu, w: os.Stderr, prefix: p, neutral: guard.Active()}
		mu.Lock()
		writers = append(writers, o, e)
		mu.Unlock()
		return o, e
	}
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
	for _, w := range writers {
		w.Flush()
	}
	// Files in the order of the kernel list, whatever order they finished in.
	order := map[string]int{}
	for i, n := range cfg.Kernels {
		order[n] = i
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

// prefixWriter writes whole lines to w, each after prefix; a partial last
// line waits for its newline (or Flush). With neutral set, no line reads as
// a GitHub workflow command (the legacy "##[" form is found anywhere in a
// line, after the prefix too).
type prefixWriter struct {
	mu      *sync.Mutex
	w       io.Writer
	prefix  string
	buf     []byte
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
		out = append(out, p.prefix...)
		out = append(out, p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
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
	if workdir != "" && noWorkdir {
		return errors.New("--workdir and --no-workdir exclude each other")
	}
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

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
