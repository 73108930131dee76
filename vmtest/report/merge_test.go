package report

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeShard writes kernels the way a runner shard does: per-kernel
// directories, and summary.json/md only when withSummary.
func writeShard(t *testing.T, root string, s Summary, withSummary bool) {
	t.Helper()
	for _, k := range s.Kernels {
		if err := WriteKernel(KernelDir(root, k.Kernel.Name), k); err != nil {
			t.Fatal(err)
		}
	}
	if withSummary {
		t.Setenv(StepSummaryEnv, "")
		if err := WriteRun(root, s); err != nil {
			t.Fatal(err)
		}
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
	if err != nil {
		t.Fatal(err)
	}
	lb, err := Load(filepath.Join(root, "shard-b"))
	if err != nil {
		t.Fatal(err)
	}
	merged, err := Merge(lb, la)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range merged.Kernels {
		names = append(names, k.Kernel.Name)
	}
	if want := "oci:ghcr.io/cilium/ci-kernels:5.4 5.10 6.1 6.12"; strings.Join(names, " ") != want {
		t.Errorf("merged kernel order = %q, want %q", names, want)
	}
	// Shard b has no summary.json, so it carries no times; shard a's are kept.
	if !merged.Started.Equal(a.Started) || !merged.Finished.Equal(a.Finished) {
		t.Errorf("merged times = %v .. %v, want shard a's %v .. %v", merged.Started, merged.Finished, a.Started, a.Finished)
	}
	golden(t, "merge.md", Markdown(merged))

	// Loading the parent (as CI downloads every shard's artifact into one
	// directory) gives the same summary.
	whole, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if Markdown(whole) != Markdown(merged) {
		t.Errorf("Load(parent) differs from Merge(Load(a), Load(b)):\n%s", Markdown(whole))
	}
}

func TestMergeTakesEarliestStartAndLatestFinish(t *testing.T) {
	a, b := shards()
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Started.Equal(b.Started) || !m.Finished.Equal(a.Finished) {
		t.Errorf("merged times = %v .. %v, want %v .. %v", m.Started, m.Finished, b.Started, a.Finished)
	}
	if m.Payload != "harness.test -test.v" {
		t.Errorf("merged payload = %q, want the shards' common payload once", m.Payload)
	}
}

func TestMergeRejectsDuplicateKernel(t *testing.T) {
	a, b := shards()
	b.Kernels = append(b.Kernels, a.Kernels[0])
	_, err := Merge(a, b)
	if !errors.Is(err, ErrDuplicateKernel) {
		t.Fatalf("Merge with kernel %q in both shards: err = %v, want ErrDuplicateKernel", a.Kernels[0].Kernel.Name, err)
	}
	var dup *DuplicateKernelError
	if !errors.As(err, &dup) || dup.Kernel != a.Kernels[0].Kernel.Name {
		t.Errorf("duplicate error = %#v, want it to name kernel %q", err, a.Kernels[0].Kernel.Name)
	}

	// The same through Load: one kernel written by two shards.
	root := t.TempDir()
	writeShard(t, filepath.Join(root, "x"), Summary{Kernels: a.Kernels[:1]}, false)
	writeShard(t, filepath.Join(root, "y"), Summary{Kernels: a.Kernels[:1]}, false)
	if _, err := Load(root); !errors.Is(err, ErrDuplicateKernel) {
		t.Errorf("Load of two shards holding the same kernel: err = %v, want ErrDuplicateKernel", err)
	}
}

func TestLoadOfEmptyDirectoryIsErrNoResults(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); !errors.Is(err, ErrNoResults) {
		t.Errorf("Load(empty dir) err = %v, want ErrNoResults", err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil || errors.Is(err, ErrNoResults) {
		t.Errorf("Load(missing dir) err = %v, want a not-exist error", err)
	}
}

func TestLoadRejectsCorruptResults(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ResultsFile), []byte(`{"kernel": {"name": "6.1"}, "outcome": `), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), ResultsFile) {
		t.Errorf("Load of a truncated results.json: err = %v, want a decode error naming the file", err)
	}
}

func TestWriteRunRoundTripsWithoutEvents(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(StepSummaryEnv, "")
	s := factsRun()
	s.Kernels[1].Events = []TestEvent{{Action: "output", Test: "TestExec", Output: "hello\n"}}
	if err := WriteRun(dir, s); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := normalize(s)
	for i := range want.Kernels {
		want.Kernels[i].Events = nil
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("Load(WriteRun(s)) =\n%s\nwant\n%s", gj, wj)
	}
	md, err := os.ReadFile(filepath.Join(dir, SummaryMD))
	if err != nil || string(md) != Markdown(s) {
		t.Errorf("summary.md = %q (err %v), want Markdown(s)", md, err)
	}
	if !reflect.DeepEqual(s.Kernels[1].Events, []TestEvent{{Action: "output", Test: "TestExec", Output: "hello\n"}}) {
		t.Errorf("WriteRun changed the caller's events: %+v", s.Kernels[1].Events)
	}
}

func TestWriteKernelRoundTripsResults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "k")
	r := mixedRun().Kernels[1]
	r.Events = []TestEvent{{Time: t0, Action: "fail", Test: "TestConnect", Elapsed: 0.3}}
	if err := WriteKernel(dir, r); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Kernels) != 1 || !reflect.DeepEqual(got.Kernels[0], r) {
		t.Errorf("Load(WriteKernel(r)) = %+v, want %+v", got.Kernels, r)
	}
	x, err := os.ReadFile(filepath.Join(dir, JUnitFile))
	if err != nil {
		t.Fatal(err)
	}
	decodeJUnit(t, x)
}

func TestWriteRunAppendsToStepSummary(t *testing.T) {
	dir := t.TempDir()
	step := filepath.Join(dir, "step_summary")
	if err := os.WriteFile(step, []byte("earlier step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(StepSummaryEnv, step)
	s := allPassRun()
	if err := WriteRun(filepath.Join(dir, "report"), s); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(step)
	if err != nil {
		t.Fatal(err)
	}
	if want := "earlier step\n" + Markdown(s); string(got) != want {
		t.Errorf("step summary = %q, want the earlier content followed by summary.md", got)
	}
}

func TestStepSummaryFitsGitHubLimit(t *testing.T) {
	dir := t.TempDir()
	step := filepath.Join(dir, "step_summary")
	t.Setenv(StepSummaryEnv, step)
	s := mixedRun()
	// Enough failing tests with long output to exceed 1 MiB in summary.md.
	long := strings.Repeat(strings.Repeat("x", 199)+"\n", failureLines)
	for i := 0; i < 400; i++ {
		s.Kernels[1].Tests = append(s.Kernels[1].Tests, TestResult{Name: "TestMany/" + strings.Repeat("n", 3) + string(rune('a'+i%26)) + strings.Repeat("0", i%7) + "_" + strconv.Itoa(i), Status: "fail", Output: long})
	}
	if err := WriteRun(filepath.Join(dir, "report"), s); err != nil {
		t.Fatal(err)
	}
	full, _ := os.ReadFile(filepath.Join(dir, "report", SummaryMD))
	got, _ := os.ReadFile(step)
	if len(full) <= stepSummaryLimit {
		t.Fatalf("summary.md is %d bytes; the test needs more than %d", len(full), stepSummaryLimit)
	}
	if len(got) > stepSummaryLimit {
		t.Errorf("step summary is %d bytes, over the %d limit", len(got), stepSummaryLimit)
	}
	if !strings.Contains(string(got), "left out to fit the job summary") || !strings.Contains(string(got), "### Tests") {
		t.Errorf("shortened step summary lacks the tests matrix or the note on left-out failures:\n%.2000s", got)
	}
}
