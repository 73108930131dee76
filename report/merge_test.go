package report

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
)

// writeShard writes kernels the way a runner shard does: per-kernel
// directories, and summary.json/md only when withSummary.
func writeShard(t *testing.T, root string, s Summary, withSummary bool) {
	t.Helper()
	for _, k := range s.Kernels {
		require.NoError(t, WriteKernel(KernelDir(root, k.Kernel.Name), k))
	}
	if withSummary {
		t.Setenv(StepSummaryEnv, "")
		require.NoError(t, WriteRun(root, s))
	}
}

// shards splits the facts run into two shards: one with a summary.json, one
// with only per-kernel results.json (a shard whose summary was not written).
func shards() (Summary, Summary) {
	all := factsRun()
	a := Summary{Started: all.Started.Add(10 * time.Second), Finished: all.Finished, Payload: all.Payload}
	b := Summary{Started: all.Started, Finished: all.Finished.Add(-time.Minute), Payload: all.Payload}
	for i, k := range all.Kernels {
		if i%2 == 0 {
			a.Kernels = append(a.Kernels, k)
		} else {
			b.Kernels = append(b.Kernels, k)
		}
	}
	return a, b
}

func TestMergeOfTwoShardsMatchesGolden(t *testing.T) {
	root := t.TempDir()
	a, b := shards()
	writeShard(t, filepath.Join(root, "shard-a"), a, true)
	writeShard(t, filepath.Join(root, "shard-b"), b, false)

	la, err := Load(filepath.Join(root, "shard-a"))
	require.NoError(t, err)
	lb, err := Load(filepath.Join(root, "shard-b"))
	require.NoError(t, err)
	merged, err := Merge(lb, la)
	require.NoError(t, err)
	var names []string
	for _, k := range merged.Kernels {
		names = append(names, k.Kernel.Name)
	}
	want := "oci:ghcr.io/cilium/ci-kernels:5.4 5.10 6.1 6.12"
	assert.Equal(t, want, strings.Join(names, " "), "merged kernel order = %q, want %q", names, want)
	// Shard b has no summary.json, so it carries no times; shard a's are kept.
	assert.True(t, merged.Started.Equal(a.Started), "merged times = %v .. %v, want shard a's %v .. %v", merged.Started, merged.Finished, a.Started, a.Finished)
	assert.True(t, merged.Finished.Equal(a.Finished), "merged times = %v .. %v, want shard a's %v .. %v", merged.Started, merged.Finished, a.Started, a.Finished)
	golden(t, "merge.md", Markdown(merged))

	// Loading the parent (as CI downloads every shard's artifact into one
	// directory) gives the same summary.
	whole, err := Load(root)
	require.NoError(t, err)
	assert.Equal(t, Markdown(merged), Markdown(whole), "Load(parent) differs from Merge(Load(a), Load(b)):\n%s", Markdown(whole))
}

func TestMergeTakesEarliestStartAndLatestFinish(t *testing.T) {
	a, b := shards()
	m, err := Merge(a, b)
	require.NoError(t, err)
	assert.True(t, m.Started.Equal(b.Started), "merged times = %v .. %v, want %v .. %v", m.Started, m.Finished, b.Started, a.Finished)
	assert.True(t, m.Finished.Equal(a.Finished), "merged times = %v .. %v, want %v .. %v", m.Started, m.Finished, b.Started, a.Finished)
	assert.EqualValues(t, "harness.test -test.v", m.Payload, "merged payload = %q, want the shards' common payload once", m.Payload)
}

func TestMergeRejectsDuplicateKernel(t *testing.T) {
	a, b := shards()
	b.Kernels = append(b.Kernels, a.Kernels[0])
	_, err := Merge(a, b)
	require.ErrorIs(t, err, ErrDuplicateKernel, "Merge with kernel %q in both shards: err = %v, want ErrDuplicateKernel", a.Kernels[0].Kernel.Name, err)
	var dup *DuplicateKernelError
	assert.True(t, errors.As(err, &dup), "duplicate error = %#v, want it to name kernel %q", err, a.Kernels[0].Kernel.Name)
	assert.Equal(t, a.Kernels[0].Kernel.Name, dup.Kernel, "duplicate error = %#v, want it to name kernel %q", err, a.Kernels[0].Kernel.Name)

	// The same through Load: one kernel written by two shards.
	root := t.TempDir()
	writeShard(t, filepath.Join(root, "x"), Summary{Kernels: a.Kernels[:1]}, false)
	writeShard(t, filepath.Join(root, "y"), Summary{Kernels: a.Kernels[:1]}, false)
	_, err = Load(root)
	assert.ErrorIs(t, err, ErrDuplicateKernel, "Load of two shards holding the same kernel: err = %v, want ErrDuplicateKernel", err)
}

func TestLoadOfEmptyDirectoryIsErrNoResults(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755))
	_, err := Load(dir)
	assert.ErrorIs(t, err, ErrNoResults, "Load(empty dir) err = %v, want ErrNoResults", err)
	_, err = Load(filepath.Join(dir, "missing"))
	assert.Error(t, err, "Load(missing dir) err = %v, want a not-exist error", err)
	assert.NotErrorIs(t, err, ErrNoResults, "Load(missing dir) err = %v, want a not-exist error", err)
}

func TestLoadRejectsCorruptResults(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ResultsFile), []byte(`{"kernel": {"name": "6.1"}, "outcome": `), 0o644))
	_, err := Load(dir)
	assert.Error(t, err, "Load of a truncated results.json: err = %v, want a decode error naming the file", err)
	assert.Contains(t, err.Error(), ResultsFile, "Load of a truncated results.json: err = %v, want a decode error naming the file", err)
}

func TestWriteRunRoundTripsWithoutEvents(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(StepSummaryEnv, "")
	s := factsRun()
	s.Kernels[1].Events = []TestEvent{{Action: "output", Test: "TestExec", Output: "hello\n"}}
	require.NoError(t, WriteRun(dir, s))
	got, err := Load(dir)
	require.NoError(t, err)
	want := normalize(s)
	for i := range want.Kernels {
		want.Kernels[i].Events = nil
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	assert.Equal(t, string(wj), string(gj), "Load(WriteRun(s)) =\n%s\nwant\n%s", gj, wj)
	md, err := os.ReadFile(filepath.Join(dir, SummaryMD))
	assert.NoError(t, err, "summary.md = %q (err %v), want Markdown(s)", md, err)
	assert.Equal(t, Markdown(s), string(md), "summary.md = %q (err %v), want Markdown(s)", md, err)
	assert.Equal(t, []TestEvent{{Action: "output", Test: "TestExec", Output: "hello\n"}}, s.Kernels[1].Events, "WriteRun changed the caller's events: %+v", s.Kernels[1].Events)
}

func TestWriteKernelRoundTripsResults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "k")
	r := mixedRun().Kernels[1]
	r.Events = []TestEvent{{Time: t0, Action: "fail", Test: "TestConnect", Elapsed: 0.3}}
	require.NoError(t, WriteKernel(dir, r))
	got, err := Load(dir)
	require.NoError(t, err)
	assert.Len(t, got.Kernels, 1, "Load(WriteKernel(r)) = %+v, want %+v", got.Kernels, r)
	assert.Equal(t, r, got.Kernels[0], "Load(WriteKernel(r)) = %+v, want %+v", got.Kernels, r)
	x, err := os.ReadFile(filepath.Join(dir, JUnitFile))
	require.NoError(t, err)
	decodeJUnit(t, x)
}

func TestWriteRunAppendsToStepSummary(t *testing.T) {
	dir := t.TempDir()
	step := filepath.Join(dir, "step_summary")
	require.NoError(t, os.WriteFile(step, []byte("earlier step\n"), 0o644))
	t.Setenv(StepSummaryEnv, step)
	s := allPassRun()
	require.NoError(t, WriteRun(filepath.Join(dir, "report"), s))
	got, err := os.ReadFile(step)
	require.NoError(t, err)
	want := "earlier step\n" + Markdown(s)
	assert.Equal(t, want, string(got), "step summary = %q, want the earlier content followed by summary.md", got)
}

func TestStepSummaryFitsGitHubLimit(t *testing.T) {
	dir := t.TempDir()
	step := filepath.Join(dir, "step_summary")
	t.Setenv(StepSummaryEnv, step)
	s := mixedRun()
	// Enough failing tests with long output to exceed 1 MiB in summary.md.
	long := strings.Repeat(strings.Repeat("x", 199)+"\n", failureLines)
	for i := range 400 {
		s.Kernels[1].Tests = append(s.Kernels[1].Tests, TestResult{Name: "TestMany/" + strings.Repeat("n", 3) + string(rune('a'+i%26)) + strings.Repeat("0", i%7) + "_" + strconv.Itoa(i), Status: "fail", Output: long})
	}
	require.NoError(t, WriteRun(filepath.Join(dir, "report"), s))
	full, _ := os.ReadFile(filepath.Join(dir, "report", SummaryMD))
	got, _ := os.ReadFile(step)
	require.False(t, len(full) <= stepSummaryLimit, "summary.md is %d bytes; the test needs more than %d", len(full), stepSummaryLimit)
	assert.False(t, len(got) > stepSummaryLimit, "step summary is %d bytes, over the %d limit", len(got), stepSummaryLimit)
	assert.Contains(t, string(got), "left out to fit the job summary", "shortened step summary lacks the tests matrix or the note on left-out failures:\n%.2000s", got)
	assert.Contains(t, string(got), "### Tests", "shortened step summary lacks the tests matrix or the note on left-out failures:\n%.2000s", got)
}

// A shard written before kernels carried their architecture (no "arch") and
// one written after merge into one run; the host paths of a resolved kernel
// never reach results.json.
func TestMergeOfShardsWithAndWithoutArchitecture(t *testing.T) {
	old, cur := t.TempDir(), t.TempDir()
	legacy := `{"kernel":{"name":"5.10","version":"5.10.223","release":"5.10.0-32-cloud-amd64","source":"debian:bullseye/linux-image-5.10.0-32-cloud-amd64=5.10.223-1","sha256":"ab"},"outcome":"pass","reason":"ok","exit_code":0,"timings":{"boot_seconds":1,"payload_seconds":1,"total_seconds":2}}`
	require.NoError(t, os.MkdirAll(filepath.Join(old, "5.10"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(old, "5.10", ResultsFile), []byte(legacy), 0o644))
	k := kernel.Kernel{Name: "6.1/arm64", Arch: kernel.ARM64, Version: "6.1.176", Path: "/host/cache/blob", ConfigPath: "/host/cache/config"}
	require.NoError(t, WriteKernel(filepath.Join(cur, KernelDir("", k.Name)), KernelResult{Kernel: k, Outcome: Pass, Reason: "ok"}))
	raw, err := os.ReadFile(filepath.Join(cur, KernelDir("", k.Name), ResultsFile))
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "/host/cache", "host paths in results.json")
	assert.Contains(t, string(raw), `"arch": "arm64"`)

	a, err := Load(old)
	require.NoError(t, err)
	b, err := Load(cur)
	require.NoError(t, err)
	m, err := Merge(a, b)
	require.NoError(t, err)
	require.Len(t, m.Kernels, 2)
	byName := map[string]kernel.Kernel{}
	for _, r := range m.Kernels {
		byName[r.Kernel.Name] = r.Kernel
	}
	assert.Equal(t, kernel.Kernel{Name: "5.10", Version: "5.10.223", Release: "5.10.0-32-cloud-amd64", Source: "debian:bullseye/linux-image-5.10.0-32-cloud-amd64=5.10.223-1", SHA256: "ab"}, byName["5.10"])
	assert.Equal(t, kernel.Kernel{Name: "6.1/arm64", Arch: kernel.ARM64, Version: "6.1.176"}, byName["6.1/arm64"])
}

func TestMergeKeepsTheArgumentCheck(t *testing.T) {
	stable := &Args{Summary: "argument types stable across 6.1 (6 reads)"}
	drift := &Args{Summary: "argument DRIFT across 5.10: 1 of 6 reads change type", Drift: 1, Notes: []string{"core_drift DRIFT: ..."}}
	k := func(name string) []KernelResult {
		return []KernelResult{{Kernel: kernel.Kernel{Name: name}, Outcome: Pass}}
	}

	one, err := Merge(Summary{Kernels: k("6.1"), Args: stable}, Summary{Kernels: k("5.10")})
	require.NoError(t, err)
	assert.Equal(t, stable, one.Args, "a single check is kept as it is")
	assert.Contains(t, Markdown(one), "### Arguments read by the probes\n\nargument types stable across 6.1 (6 reads)")

	two, err := Merge(Summary{Kernels: k("6.1"), Args: stable}, Summary{Kernels: k("5.10"), Args: drift})
	require.NoError(t, err)
	require.NotNil(t, two.Args)
	assert.Equal(t, 1, two.Args.Drift)
	assert.Equal(t, "argument types stable across 6.1 (6 reads); argument DRIFT across 5.10: 1 of 6 reads change type (checked per shard; drift between shards is not compared)", two.Args.Summary)
	assert.Equal(t, drift.Notes, two.Args.Notes)
}
