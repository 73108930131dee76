package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
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
  vmtest report merge [-o DIR] [-kernels LIST] DIR...
      Merge the report directories of shard runs (or one directory holding
      them all, as CI downloads artifacts) into one summary: writes
      DIR/summary.json and DIR/summary.md (-o, default "."), appends
      summary.md to $GITHUB_STEP_SUMMARY when set, prints the matrix.
      -kernels names the kernels the matrix asked for; one missing from
      every DIR is reported as infra-error ("no report") instead of vanishing.
      A kernel found in two DIRs is an error (so is an -o DIR inside an
      input DIR that already holds a merged summary.json).
  vmtest report show [-format text|markdown|json] DIR
      Print the report in DIR (a run, a shard or one kernel's directory).

Both exit with the run's code: 0 all passed, 1 any failure (or a program
load contradicting its offline prediction), 3 only infrastructure failures;
2 for bad arguments, unreadable reports or a kernel in two reports.
`

func runReport(ctx context.Context, args []string) error {
	return runReportTo(os.Stdout, os.Stderr, args)
}

func runReportTo(stdout, stderr io.Writer, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, reportUsage)
		return exitWith(exitUsage, nil)
	}
	switch args[0] {
	case "merge":
		return reportMerge(stdout, stderr, args[1:])
	case "show":
		return reportShow(stdout, stderr, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, reportUsage)
		return nil
	}
	fmt.Fprint(stderr, reportUsage)
	return usageError(fmt.Errorf("unknown subcommand %q", args[0]))
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func reportMerge(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("vmtest report merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", ".", "write summary.json and summary.md into `DIR`")
	kernels := fs.String("kernels", "", "comma-separated kernels the matrix asked for; missing ones are reported")
	fs.Usage = func() { fmt.Fprint(stderr, reportUsage) }
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		return exitWith(exitUsage, nil)
	}
	if len(dirs) == 0 {
		fmt.Fprint(stderr, reportUsage)
		return usageError(errors.New("merge: no report directory given"))
	}
	var want []kernel.Kernel
	if *kernels != "" {
		if want, err = parseKernels([]string{*kernels}); err != nil {
			return usageError(fmt.Errorf("merge: -kernels: %w", err))
		}
	}
	var parts []report.Summary
	for _, d := range dirs {
		s, err := report.Load(d)
		if err != nil {
			return usageError(fmt.Errorf("merge: %w", err))
		}
		parts = append(parts, s)
	}
	merged, err := report.Merge(parts...)
	if err != nil {
		return usageError(fmt.Errorf("merge: %w", err))
	}
	merged = addMissing(merged, want)
	if err := report.WriteRun(*out, merged); err != nil {
		return exitWith(exitInfra, fmt.Errorf("merge: %w", err))
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

func reportShow(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("vmtest report show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output `FORMAT`: text, markdown or json")
	fs.Usage = func() { fmt.Fprint(stderr, reportUsage) }
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		return exitWith(exitUsage, nil)
	}
	if len(dirs) != 1 {
		fmt.Fprint(stderr, reportUsage)
		return usageError(fmt.Errorf("show: want one report directory, got %d", len(dirs)))
	}
	s, err := report.Load(dirs[0])
	if err != nil {
		return usageError(fmt.Errorf("show: %w", err))
	}
	switch *format {
	case "text":
		fmt.Fprint(stdout, report.Terminal(s))
	case "markdown", "md":
		fmt.Fprint(stdout, report.Markdown(s))
	case "json":
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return exitWith(exitInfra, fmt.Errorf("show: %w", err))
		}
		fmt.Fprintf(stdout, "%s\n", b)
	default:
		return usageError(fmt.Errorf("show: unknown format %q (want text, markdown or json)", *format))
	}
	return exitWith(report.ExitCode(s), nil)
}
