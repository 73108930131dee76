package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
)

// writeShardReport writes one kernel result the way a runner shard does.
func writeShardReport(t *testing.T, root string, rs ...report.KernelResult) {
	t.Helper()
	for _, r := range rs {
		require.NoError(t, report.WriteKernel(report.KernelDir(root, r.Kernel.Name), r))
	}
}

func kernelResult(name string, o report.Outcome) report.KernelResult {
	r := report.KernelResult{Kernel: kernel.Kernel{Name: name, Release: name + ".0-cloud-amd64"}, Outcome: o, Reason: string(o) + " on " + name}
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
	assert.Equal(t, exitFail, code, "merge of a passing and a failing shard exited %d, want %d; stderr: %s", code, exitFail, stderr.String())
	md, err := os.ReadFile(filepath.Join(out, report.SummaryMD))
	require.NoError(t, err)
	i, j := strings.Index(string(md), "| `5.10` |"), strings.Index(string(md), "| `6.1` |")
	assert.False(t, i < 0, "summary.md does not list 5.10 before 6.1:\n%s", md)
	assert.False(t, j < 0, "summary.md does not list 5.10 before 6.1:\n%s", md)
	assert.False(t, i > j, "summary.md does not list 5.10 before 6.1:\n%s", md)
	got, _ := os.ReadFile(step)
	assert.Equal(t, string(md), string(got), "step summary = %q, want summary.md appended", got)
	var s report.Summary
	b, _ := os.ReadFile(filepath.Join(out, report.SummaryJSON))
	err = json.Unmarshal(b, &s)
	assert.NoError(t, err, "summary.json holds %d kernels (err %v), want 2", len(s.Kernels), err)
	assert.Len(t, s.Kernels, 2, "summary.json holds %d kernels (err %v), want 2", len(s.Kernels), err)
	assert.Contains(t, stdout.String(), "1/2 kernels passed", "stdout lacks the terminal matrix:\n%s", stdout.String())
}

func TestReportMergeOfParentDirectoryAndMissingKernel(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	writeShardReport(t, filepath.Join(dir, "in", "a"), kernelResult("6.1", report.Pass))
	writeShardReport(t, filepath.Join(dir, "in", "b"), kernelResult("6.12", report.Pass))
	var stdout, stderr bytes.Buffer
	code := reportCode(&stdout, &stderr, []string{"merge", "-o", filepath.Join(dir, "out"), "-kernels", "6.1,6.12,5.10", filepath.Join(dir, "in")})
	assert.Equal(t, exitInfra, code, "merge with kernel 5.10 missing exited %d, want %d (infrastructure only); stdout:\n%s", code, exitInfra, stdout.String())
	assert.Contains(t, stdout.String(), "5.10", "missing kernel 5.10 not reported:\n%s", stdout.String())
	assert.Contains(t, stdout.String(), "infra-error", "missing kernel 5.10 not reported:\n%s", stdout.String())
}

func TestReportMergeRejectsDuplicateKernel(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	writeShardReport(t, filepath.Join(dir, "a"), kernelResult("6.1", report.Pass))
	writeShardReport(t, filepath.Join(dir, "b"), kernelResult("6.1", report.Fail))
	var stdout, stderr bytes.Buffer
	code := reportCode(&stdout, &stderr, []string{"merge", "-o", filepath.Join(dir, "out"), filepath.Join(dir, "a"), filepath.Join(dir, "b")})
	assert.Equal(t, exitUsage, code, "merge of two reports of 6.1 exited %d with %q, want %d and the duplicate named", code, stderr.String(), exitUsage)
	assert.Contains(t, stderr.String(), `kernel "6.1" reported more than once`, "merge of two reports of 6.1 exited %d with %q, want %d and the duplicate named", code, stderr.String(), exitUsage)
	_, err := os.Stat(filepath.Join(dir, "out", report.SummaryMD))
	assert.Error(t, err, "a failed merge wrote summary.md anyway")
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
		code := reportCode(&stdout, &stderr, args)
		assert.Equal(t, exitUsage, code, "vmtest report %q exited %d, want %d; stderr: %s", args, code, exitUsage, stderr.String())
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
		assert.Equal(t, exitOK, code, "report show -format %s exited %d, printed:\n%s\nwant exit 0 and %q", tc.format, code, stdout.String(), tc.want)
		assert.Contains(t, stdout.String(), tc.want, "report show -format %s exited %d, printed:\n%s\nwant exit 0 and %q", tc.format, code, stdout.String(), tc.want)
	}
}

// reportCode runs `vmtest report ARGS...` as main would: the error printed
// on stderr, the exit code returned.
func reportCode(stdout, stderr *bytes.Buffer, args []string) int {
	return exitCode(stderr, "vmtest report", runReportTo(stdout, stderr, args))
}
