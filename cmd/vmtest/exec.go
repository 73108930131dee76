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
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"

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
	sf := addShareFlags(fs, true)
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
	sf.apply(&cfg)
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
	cfg.Output = func(string) (io.Writer, io.Writer) { return os.Stdout, os.Stderr }
	r, err := newRunner(cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	res := r.Kernel(ctx, name, dir, nil)
	if err := writeFiles(cfg, []*vmtest.Result{res}); err != nil {
		return exitWith(exitInfra, err)
	}
	// The payload's own exit code passes through, unless the kernel failed
	// a run the payload passed (a kernel warning).
	if res.Outcome == report.Pass || res.Outcome == report.Fail && res.ExitCode > 0 {
		return exitWith(res.ExitCode, nil)
	}
	msg := fmt.Sprintf("kernel %s: %s: %s", name, res.Outcome, res.Reason)
	if res.Trace != "" {
		msg += "\n" + strings.TrimRight(res.Trace, "\n")
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
		o := &prefixWriter{mu: &mu, w: os.Stdout, prefix: p}
		e := &prefixWriter{mu: &mu, w: os.Stderr, prefix: p}
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
		if writeReport {
			if err := report.WriteKernel(res.Dir, res.KernelResult); err != nil {
				writeErrs = append(writeErrs, err)
			}
		}
	})
	for _, w := range writers {
		w.Flush()
	}
	if writeReport {
		if err := report.WriteRun(cfg.ReportDir, sum); err != nil {
			writeErrs = append(writeErrs, err)
		}
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
// line waits for its newline (or Flush).
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
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
		p.w.Write(out)
	}
	return len(b), nil
}

// Flush writes a partial last line.
func (p *prefixWriter) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		p.w.Write(append(append([]byte(p.prefix), p.buf...), '\n'))
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

// writeFiles writes what the payload wrote for the host at the same paths.
// When several kernels sent the same file, a coverage profile is merged
// (go tool cover adds up the blocks) and any other file is the first
// kernel's (in list order).
func writeFiles(cfg vmtest.Config, results []*vmtest.Result) error {
	cover := gotest.CoverProfile(cfg.Args, cfg.WorkDir)
	data := map[string][]byte{}
	modes := map[string]os.FileMode{}
	var order []string
	for _, res := range results {
		if res == nil {
			continue
		}
		for _, f := range res.Files {
			prev, seen := data[f.Path]
			switch {
			case !seen:
				data[f.Path], modes[f.Path] = f.Data, f.Mode
				order = append(order, f.Path)
			case f.Path == cover:
				data[f.Path] = mergeCoverProfiles(prev, f.Data)
			}
		}
	}
	for _, p := range order {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data[p], modes[p]|0o200); err != nil {
			return err
		}
	}
	return nil
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
