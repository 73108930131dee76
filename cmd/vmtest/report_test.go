package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corematrix/corematrix/vmtest/report"
)

// writeShardReport writes one kernel result the way a runner shard does.
func writeShardReport(t *testing.T, root string, rs ...report.KernelResult) {
	t.Helper()
	for _, r := range rs {
		if err := report.WriteKernel(report.KernelDir(root, r.Kernel.Name), r); err != nil {
			t.Fatal(err)
		}
	}
}

func kernelResult(name string, o report.Outcome) report.KernelResult {
	r := report.KernelResult{Kernel: report.Kernel{Name: name, Release: name + ".0-cloud-amd64"}, Outcome: o, Reason: string(o) + " on " + name}
	status := "pass"
	if o == report.Fail {
		status = "fail"
	}
	r.Tests = []report.TestResult{{Name: "TestExec", Status: status, Output: "--- " + strings.ToUpper(status) + ": TestExec\n"}}
	return r
}

func TestReportMergeWritesSummaryAndExitsWithRunCode(t *testing.T) {
	dir := t.TempDir()
	step := filepath.Join(dir, "step")
	t.Setenv("GITHUB_STEP_SUMMARY", step)
	writeShardReport(t, filepath.Join(dir, "in", "shard-6.1"), kernelResult("6.1", report.Pass))
	writeShardReport(t, filepath.Join(dir, "in", "shard-5.10"), kernelResult("5.10", report.Fail))
	out := filepath.Join(dir, "out")

	var stdout, stderr bytes.Buffer
	code := reportCode(&stdout, &stderr, []string{"merge", filepath.Join(dir, "in", "shard-6.1"), "-o", out, filepath.Join(dir, "in", "shard-5.10")})
	if code != exitFail {
		t.Errorf("merge of a passing and a failing shard exited %d, want %d; stderr: %s", code, exitFail, stderr.String())
	}
	md, err := os.ReadFile(filepath.Join(out, report.SummaryMD))
	if err != nil {
		t.Fatal(err)
	}
	if i, j := strings.Index(string(md), "| `5.10` |"), strings.Index(string(md), "| `6.1` |"); i < 0 || j < 0 || i > j {
		t.Errorf("summary.md does not list 5.10 before 6.1:\n%s", md)
	}
	if got, _ := os.ReadFile(step); string(got) != string(md) {
		t.Errorf("step summary = %q, want summary.md appended", got)
	}
	var s report.Summary
	b, _ := os.ReadFile(filepath.Join(out, report.SummaryJSON))
	if err := json.Unmarshal(b, &s); err != nil || len(s.Kernels) != 2 {
		t.Errorf("summary.json holds %d kernels (err %v), want 2", len(s.Kernels), err)
	}
	if !strings.Contains(stdout.String(), "1/2 kernels passed") {
		t.Errorf("stdout lacks the terminal matrix:\n%s", stdout.String())
	}
}

func TestReportMergeOfParentDirectoryAndMissingKernel(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	writeShardReport(t, filepath.Join(dir, "in", "a"), kernelResult("6.1", report.Pass))
	writeShardReport(t, filepath.Join(dir, "in", "b"), kernelResult("6.12", report.Pass))
	var stdout, stderr bytes.Buffer
	code := reportCode(&stdout, &stderr, []string{"merge", "-o", filepath.Join(dir, "out"), "-kernels", "6.1,6.12,5.10", filepath.Join(dir, "in")})
	if code != exitInfra {
		t.Errorf("merge with kernel 5.10 missing exited %d, want %d (infrastructure only); stdout:\n%s", code, exitInfra, stdout.String())
	}
	if !strings.Contains(stdout.String(), "5.10") || !strings.Contains(stdout.String(), "infra-error") {
		t.Errorf("missing kernel 5.10 not reported:\n%s", stdout.String())
	}
}

func TestReportMergeRejectsDuplicateKernel(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	writeShardReport(t, filepath.Join(dir, "a"), kernelResult("6.1", report.Pass))
	writeShardReport(t, filepath.Join(dir, "b"), kernelResult("6.1", report.Fail))
	var stdout, stderr bytes.Buffer
	code := reportCode(&stdout, &stderr, []string{"merge", "-o", filepath.Join(dir, "out"), filepath.Join(dir, "a"), filepath.Join(dir, "b")})
	if code != exitUsage || !strings.Contains(stderr.String(), `kernel "6.1" reported more than once`) {
		t.Errorf("merge of two reports of 6.1 exited %d with %q, want %d and the duplicate named", code, stderr.String(), exitUsage)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", report.SummaryMD)); err == nil {
		t.Errorf("a failed merge wrote summary.md anyway")
	}
}

func TestReportUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"merge"},
		{"merge", "-bogus", "x"},
		{"merge", t.TempDir()}, // no results inside
		{"show"},
		{"show", "-format", "yaml", t.TempDir()},
		{"frobnicate"},
	} {
		var stdout, stderr bytes.Buffer
		if code := reportCode(&stdout, &stderr, args); code != exitUsage {
			t.Errorf("vmtest report %q exited %d, want %d; stderr: %s", args, code, exitUsage, stderr.String())
		}
	}
}

func TestReportShowFormats(t *testing.T) {
	dir := t.TempDir()
	writeShardReport(t, dir, kernelResult("6.1", report.Pass))
	for _, tc := range []struct{ format, want string }{
		{"text", "1/1 kernels passed"},
		{"markdown", "## corematrix: ✅ the kernel passed"},
		{"json", `"outcome": "pass"`},
	} {
		var stdout, stderr bytes.Buffer
		code := reportCode(&stdout, &stderr, []string{"show", "-format", tc.format, dir})
		if code != exitOK || !strings.Contains(stdout.String(), tc.want) {
			t.Errorf("report show -format %s exited %d, printed:\n%s\nwant exit 0 and %q", tc.format, code, stdout.String(), tc.want)
		}
	}
}

// reportCode runs `vmtest report ARGS...` as main would: the error printed
// on stderr, the exit code returned.
func reportCode(stdout, stderr *bytes.Buffer, args []string) int {
	return exitCode(stderr, "vmtest report", runReportTo(stdout, stderr, args))
}
