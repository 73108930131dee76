package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
)

func TestExitCode(t *testing.T) {
	k := func(o Outcome) KernelResult { return KernelResult{Kernel: kernel.Kernel{Name: string(o)}, Outcome: o} }
	disagreeing := k(Pass)
	disagreeing.Facts = &Facts{Programs: []ProgramStat{{Name: "p", Loaded: true}}}
	disagreeing.Prediction = &Prediction{Programs: map[string]bool{"p": false}}
	agreeing := k(Pass)
	agreeing.Facts = &Facts{Programs: []ProgramStat{{Name: "p", Loaded: false}}}
	agreeing.Prediction = &Prediction{Programs: map[string]bool{"p": false}}

	tests := []struct {
		name    string
		kernels []KernelResult
		want    int
	}{
		{"no kernels is a usage problem", nil, ExitUsage},
		{"all pass", []KernelResult{k(Pass), k(Pass)}, ExitOK},
		{"a failure", []KernelResult{k(Pass), k(Fail)}, ExitFail},
		{"a panic", []KernelResult{k(Panic)}, ExitFail},
		{"a timeout", []KernelResult{k(Timeout)}, ExitFail},
		{"a boot failure", []KernelResult{k(BootFailure)}, ExitFail},
		{"all skipped is a failure", []KernelResult{k(Skip)}, ExitFail},
		{"only infra errors", []KernelResult{k(Pass), k(InfraError)}, ExitInfra},
		{"only unavailable", []KernelResult{k(Unavailable)}, ExitInfra},
		{"infra and unavailable", []KernelResult{k(InfraError), k(Unavailable), k(Pass)}, ExitInfra},
		{"infra plus a real failure", []KernelResult{k(InfraError), k(Fail)}, ExitFail},
		{"unknown outcome is a failure", []KernelResult{k("weird")}, ExitFail},
		{"prediction contradicted though all passed", []KernelResult{disagreeing}, ExitFail},
		{"prediction contradicted beside infra errors", []KernelResult{disagreeing, k(Unavailable)}, ExitFail},
		{"prediction of a failed load confirmed", []KernelResult{agreeing}, ExitOK},
	}
	for _, tc := range tests {
		got := ExitCode(Summary{Kernels: tc.kernels})
		assert.Equal(t, tc.want, got, "%s: ExitCode = %d, want %d", tc.name, got, tc.want)
	}
}

func TestDisagreementsFindsOnlyContradictions(t *testing.T) {
	ds := Disagreements(factsRun())
	assert.Len(t, ds, 1, "Disagreements(factsRun) = %+v, want only 6.1 handle_openat predicted to fail but loaded", ds)
	assert.EqualValues(t, "6.1", ds[0].Kernel, "Disagreements(factsRun) = %+v, want only 6.1 handle_openat predicted to fail but loaded", ds)
	assert.EqualValues(t, "handle_openat", ds[0].Program, "Disagreements(factsRun) = %+v, want only 6.1 handle_openat predicted to fail but loaded", ds)
	assert.False(t, ds[0].Predicted, "Disagreements(factsRun) = %+v, want only 6.1 handle_openat predicted to fail but loaded", ds)
	assert.True(t, ds[0].Loaded, "Disagreements(factsRun) = %+v, want only 6.1 handle_openat predicted to fail but loaded", ds)
}

func TestCoverageNamesUncoveredBranches(t *testing.T) {
	var uncovered []string
	for _, c := range Coverage(factsRun()) {
		if !c.Covered() {
			uncovered = append(uncovered, c.Group+"/"+c.Name+" needs "+c.Needs)
		}
	}
	want := []string{"start_time/real_start_time needs kernel < 5.5", "events/perf needs kernel < 5.8 (or forced)"}
	assert.Len(t, uncovered, len(want), "uncovered branches = %q, want %q", uncovered, want)
	assert.Equal(t, want[0], uncovered[0], "uncovered branches = %q, want %q", uncovered, want)
	assert.Equal(t, want[1], uncovered[1], "uncovered branches = %q, want %q", uncovered, want)
}

func TestHeaderDoesNotCallAContradictedRunGreen(t *testing.T) {
	k := KernelResult{Kernel: kernel.Kernel{Name: "6.1"}, Outcome: Pass,
		Facts:      &Facts{Programs: []ProgramStat{{Name: "p", Loaded: true}}},
		Prediction: &Prediction{Programs: map[string]bool{"p": false}}}
	s := Summary{Kernels: []KernelResult{k}}
	md := Markdown(s)
	want := "## corematrix: ⚠️ all 1 kernel(s) passed, but the offline prediction was contradicted\n"
	assert.True(t, strings.HasPrefix(md, want), "Markdown header = %q, want %q", strings.SplitN(md, "\n", 2)[0], want)
	term := Terminal(s)
	assert.Contains(t, term, "DISAGREE 6.1 p: predicted fails, actually loaded", "Terminal does not show the disagreement:\n%s", term)
}

func TestExitCodeInterrupted(t *testing.T) {
	s := Summary{Kernels: []KernelResult{{Outcome: Pass}, {Outcome: Fail}, {Outcome: Interrupted}}}
	require.Equal(t, ExitInterrupted, ExitCode(s))
	require.Equal(t, 130, ExitInterrupted)
}

func TestMarkdownOutputTail(t *testing.T) {
	s := Summary{Kernels: []KernelResult{{
		Kernel: kernel.Kernel{Name: "6.1"}, Outcome: Fail, Reason: "payload exited 1",
		OutputTail: "step 1 ok\nstep 2 failed: <b>boom</b> ```\n",
	}}}
	md := Markdown(s)
	require.Contains(t, md, "<details><summary>❌ <code>6.1</code> · fail</summary>")
	require.Contains(t, md, "Last lines of the output (`6.1/output.log` in the report):")
	require.Contains(t, md, "````\nstep 1 ok\nstep 2 failed: <b>boom</b> ```\n````", "a fence longer than any backtick run in the tail")
	require.Equal(t, "b\nc\n", Tail("a\r\nb\nc\n\n", 2))
	require.Equal(t, "", Tail("\n", 2))
}
