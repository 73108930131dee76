package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/corematrix/corematrix/internal/beneath"
)

// File names inside a report directory.
const (
	ResultsFile = "results.json" // per kernel: the KernelResult
	JUnitFile   = "junit.xml"    // per kernel: one JUnit testsuite
	SummaryJSON = "summary.json" // per run: the Summary
	SummaryMD   = "summary.md"   // per run: Markdown rendering of the Summary
)

// StepSummaryEnv names the file GitHub Actions renders as the job summary.
const StepSummaryEnv = "GITHUB_STEP_SUMMARY"

// stepSummaryLimit is the size GitHub accepts for one step's summary (1 MiB),
// less room for what other steps appended.
const stepSummaryLimit = 1000 << 10

// ErrNoResults is returned by Load for a directory holding no report.
var ErrNoResults = errors.New("no summary.json or results.json found")

// WriteKernel writes r as results.json and junit.xml into dir, creating dir.
// Use KernelDir to choose dir.
func WriteKernel(dir string, r KernelResult) error {
	d, err := ensureDir(dir)
	if err != nil {
		return fmt.Errorf("write report of kernel %s: %w", r.Kernel.Name, err)
	}
	defer d.Close()
	if err := writeJSON(d, ResultsFile, r); err != nil {
		return fmt.Errorf("write report of kernel %s: %w", r.Kernel.Name, err)
	}
	x, err := JUnit(r)
	if err != nil {
		return fmt.Errorf("write report of kernel %s: %w", r.Kernel.Name, err)
	}
	if err := d.WriteAtomic(JUnitFile, x, 0o644); err != nil {
		return fmt.Errorf("write report of kernel %s: %w", r.Kernel.Name, err)
	}
	return nil
}

// WriteRun writes s as summary.json and summary.md into root, creating root,
// and appends summary.md to the file named by $GITHUB_STEP_SUMMARY when that
// is set. Kernels are written in report order (see SortKernels). summary.json
// leaves out each kernel's raw test events (Events), which stay in that
// kernel's results.json; everything else is kept.
func WriteRun(root string, s Summary) error {
	s = normalize(s)
	d, err := ensureDir(root)
	if err != nil {
		return fmt.Errorf("write run report: %w", err)
	}
	defer d.Close()
	slim := s
	slim.Kernels = make([]KernelResult, len(s.Kernels))
	for i, k := range s.Kernels {
		k.Events = nil
		slim.Kernels[i] = k
	}
	if err := writeJSON(d, SummaryJSON, slim); err != nil {
		return fmt.Errorf("write run report: %w", err)
	}
	md := Markdown(s)
	if err := d.WriteAtomic(SummaryMD, []byte(md), 0o644); err != nil {
		return fmt.Errorf("write run report: %w", err)
	}
	if path := os.Getenv(StepSummaryEnv); path != "" {
		if err := appendStepSummary(path, s, md); err != nil {
			return fmt.Errorf("write run report: %w", err)
		}
	}
	return nil
}

// appendStepSummary appends md to the GitHub step summary file. When md is
// larger than GitHub accepts, the failure details are left out, and if that
// is not enough the text is cut at a line with a note (summary.md keeps all).
func appendStepSummary(path string, s Summary, md string) error {
	if len(md) > stepSummaryLimit {
		md = markdown(s, false)
	}
	if len(md) > stepSummaryLimit {
		cut := strings.LastIndexByte(md[:stepSummaryLimit-200], '\n')
		md = md[:cut+1] + "\n\n_Summary cut to fit the job summary limit; the full text is summary.md in the report._\n"
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("append step summary: %w", err)
	}
	if _, err := f.WriteString(md); err != nil {
		f.Close()
		return fmt.Errorf("append step summary: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("append step summary: %w", err)
	}
	return nil
}

func writeJSON(d *beneath.Dir, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return d.WriteAtomic(name, append(b, '\n'), 0o644)
}

// Load reads the report under dir back into a Summary.
//
// A directory holding summary.json is read from it. A directory holding
// results.json is one kernel. Any other directory is searched recursively, a
// subtree ending where summary.json or results.json is found, and all that is
// found is merged (see Merge): this reads a runner's report directory whose
// summary.json is missing, a shard's directory, or a directory into which CI
// downloaded every shard's report. Load returns ErrNoResults when nothing is
// found.
func Load(dir string) (Summary, error) {
	var parts []Summary
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if s, ok, err := loadSummary(path); err != nil {
			return err
		} else if ok {
			parts = append(parts, s)
			return filepath.SkipDir
		}
		if r, ok, err := loadKernel(path); err != nil {
			return err
		} else if ok {
			parts = append(parts, Summary{Kernels: []KernelResult{r}})
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return Summary{}, fmt.Errorf("load report %s: %w", dir, err)
	}
	if len(parts) == 0 {
		return Summary{}, fmt.Errorf("load report %s: %w", dir, ErrNoResults)
	}
	s, err := Merge(parts...)
	if err != nil {
		return Summary{}, fmt.Errorf("load report %s: %w", dir, err)
	}
	return s, nil
}

func loadSummary(dir string) (Summary, bool, error) {
	var s Summary
	ok, err := readJSON(filepath.Join(dir, SummaryJSON), &s)
	return s, ok, err
}

func loadKernel(dir string) (KernelResult, bool, error) {
	var r KernelResult
	ok, err := readJSON(filepath.Join(dir, ResultsFile), &r)
	return r, ok, err
}

// readJSON decodes path into v; it reports false without error when path does
// not exist. Only a regular file of at most MaxReportFile bytes is read, and
// outcomes and test statuses must be ones a run writes.
func readJSON(path string, v any) (bool, error) {
	b, ok, err := readRegular(path, MaxReportFile)
	if err != nil || !ok {
		return false, err
	}
	if err := decodeReport(path, b, v); err != nil {
		return false, err
	}
	return true, nil
}
