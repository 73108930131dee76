package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
)

func init() {
	register("report", "merge shard reports into one summary, or show a report", runReport)
}

const reportUsage = `usage:
  vmtest report merge [-o DIR] [--kernels LIST] DIR...
      Merge the report directories of shard runs (or one directory holding
      them all, as CI downloads artifacts) into one summary: writes
      DIR/summary.json and DIR/summary.md (-o, default "."), appends
      summary.md to $GITHUB_STEP_SUMMARY when set, prints the matrix.
      --kernels names the kernels the matrix asked for; one missing from
      every DIR is reported as infra-error ("no report") instead of vanishing.
      A kernel found in two DIRs is an error (so is an -o DIR inside an
      input DIR that already holds a merged summary.json).
  vmtest report show [--format text|markdown|json] DIR
      Print the report in DIR (a run, a shard or one kernel's directory).

Flags may come before or after the directories.
Both exit with the run's code: 0 all passed, 1 any failure (or a program
load contradicting its offline prediction), 3 only infrastructure failures;
2 for bad arguments, unreadable reports or a kernel in two reports.
`

func runReport(ctx context.Context, args []string) error {
	return runReportTo(os.Stdout, os.Stderr, args)
}

func runReportTo(stdout, stderr io.Writer, args []string) error {
	if len(args) == 0 {
		return &exitError{code: exitUsage, err: errors.New("missing subcommand: merge or show"), usage: "vmtest report merge|show ... (vmtest report --help)"}
	}
	switch args[0] {
	case "merge":
		return prefixed("merge", reportMerge(stdout, stderr, args[1:]))
	case "show":
		return prefixed("show", reportShow(stdout, args[1:]))
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, reportUsage)
		return nil
	}
	return &exitError{code: exitUsage, err: fmt.Errorf("unknown subcommand %q: want merge or show", args[0]), usage: "vmtest report merge|show ... (vmtest report --help)"}
}

func reportMerge(stdout, stderr io.Writer, args []string) error {
	fs := newFlags("vmtest report merge", "vmtest report merge [-o DIR] [--kernels LIST] DIR...", "")
	out := fs.String("o", ".", "write summary.json and summary.md into `DIR`")
	kl := addKernelFlag(fs, "kernels")
	dirs, err := fs.parse(args, true)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return fs.failf("no report directory given")
	}
	var parts []report.Summary
	for _, d := range dirs {
		s, err := report.Load(d)
		if err != nil {
			return usageError(err)
		}
		parts = append(parts, s)
	}
	merged, err := report.Merge(parts...)
	if err != nil {
		return usageError(err)
	}
	merged = addMissing(merged, kl.kernels)
	if err := report.WriteRun(*out, merged); err != nil {
		return exitWith(exitInfra, err)
	}
	fmt.Fprint(stdout, report.Terminal(merged))
	fmt.Fprintf(stderr, "merged %d kernel(s) from %d report(s) into %s\n",
		len(merged.Kernels), len(dirs), filepath.Join(*out, report.SummaryMD))
	return exitWith(report.ExitCode(merged), nil)
}

// addMissing adds an infra-error result for every kernel of want that s does
// not hold, so a shard that never uploaded its report shows.
func addMissing(s report.Summary, want []kernel.Kernel) report.Summary {
	have := map[string]bool{}
	for _, k := range s.Kernels {
		have[k.Kernel.Name] = true
	}
	for _, k := range want {
		if have[k.Name] {
			continue
		}
		have[k.Name] = true
		s.Kernels = append(s.Kernels, report.KernelResult{
			Kernel:   k,
			Outcome:  report.InfraError,
			Reason:   "no report found for this kernel in any merged directory (did its shard upload one?)",
			ExitCode: -1,
		})
	}
	report.SortKernels(s.Kernels)
	return s
}

func reportShow(stdout io.Writer, args []string) error {
	fs := newFlags("vmtest report show", "vmtest report show [--format text|markdown|json] DIR", "")
	f := addFormatFlag(fs)
	dirs, err := fs.parse(args, true)
	if err != nil {
		return err
	}
	if len(dirs) != 1 {
		return fs.failf("want one report directory, got %d", len(dirs))
	}
	s, err := report.Load(dirs[0])
	if err != nil {
		return usageError(err)
	}
	switch *f {
	case formatText:
		fmt.Fprint(stdout, report.Terminal(s))
	case formatMarkdown:
		fmt.Fprint(stdout, report.Markdown(s))
	case formatJSON:
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return exitWith(exitInfra, err)
		}
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return exitWith(report.ExitCode(s), nil)
}
