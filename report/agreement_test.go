package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
)

// TestAgreementCauses checks the agreement of each kind of prediction with
// real load results: unknown predictions are never disagreements, and a
// failure for another cause than the predicted one is, loudly.
func TestAgreementCauses(t *testing.T) {
	k := KernelResult{
		Kernel:  kernel.Kernel{Name: "5.10"},
		Outcome: Pass,
		Facts: &Facts{Programs: []ProgramStat{
			{Name: "helper_ok", Loaded: false, Error: "program helper_ok: load program: invalid argument: invalid func unknown#181"},
			{Name: "callback_ok", Loaded: false, Error: "program callback_ok: load program: invalid argument: number of funcs in func_info doesn't match number of subprogs"},
			{Name: "other_cause", Loaded: false, Error: "program other_cause: load program: bad CO-RE relocation: invalid func unknown#195896080"},
			{Name: "unknown_loaded", Loaded: true},
			{Name: "unrecognised", Loaded: false, Error: "program unrecognised: permission denied"},
		}},
		Prediction: &Prediction{
			Programs: map[string]bool{"helper_ok": false, "callback_ok": false, "other_cause": false, "unrecognised": false},
			Reasons: map[string]string{
				"helper_ok": "helper bpf_loop (181) is not in this kernel's enum bpf_func_id", "callback_ok": "helper bpf_loop (181) ...; callback ...",
				"other_cause": "helper bpf_loop (181) ...", "unrecognised": "helper bpf_loop (181) ...",
			},
			Causes: map[string][]string{
				"helper_ok": {"helper"}, "callback_ok": {"helper", "callback"}, "other_cause": {"helper"}, "unrecognised": {"helper"},
			},
			Unknown: map[string]string{"unknown_loaded": "attach: kprobe target not in BTF"},
		},
	}
	got := map[string]ProgramCheck{}
	for _, c := range ProgramChecks(k) {
		got[c.Program] = c
	}
	for name, want := range map[string]Agreement{
		"helper_ok": Agree, "callback_ok": Agree, "other_cause": Disagree, "unknown_loaded": Unpredicted, "unrecognised": Agree,
	} {
		assert.Equal(t, want, got[name].Agreement, "%s: %+v", name, got[name])
	}
	assert.True(t, got["other_cause"].OtherCause)
	assert.Equal(t, "core", got["other_cause"].ActualCause)
	assert.Equal(t, "attach: kprobe target not in BTF", got["unknown_loaded"].Reason)

	s := Summary{Kernels: []KernelResult{k}}
	ds := Disagreements(s)
	require.Len(t, ds, 1)
	md := Markdown(s)
	assert.Contains(t, md, "**another cause** (core, not helper)")
	assert.Contains(t, md, "❔ unknown (attach: kprobe target not in BTF)")
	assert.Contains(t, md, "BTF could not tell")
	assert.True(t, strings.Contains(Terminal(s), "another cause (core, not helper)"), Terminal(s))
}

func TestLoadErrorCause(t *testing.T) {
	for text, want := range map[string]string{
		"load program: bad CO-RE relocation: invalid func unknown#195896080": "core",
		"load program: invalid argument: invalid func unknown#158":           "helper",
		`kfunc "bpf_cast_to_kern_ctx": not supported`:                        "kfunc",
		"permission denied": "",
	} {
		assert.Equal(t, want, LoadErrorCause(text), text)
	}
}

// TestSyntheticBranchIsNeverRealCoverage: a branch exercised only with
// synthetic BTF is reported as such, and still as not covered.
func TestSyntheticBranchIsNeverRealCoverage(t *testing.T) {
	k := func(name string, synthetic bool) KernelResult {
		return KernelResult{Kernel: kernel.Kernel{Name: name}, Outcome: Pass, Facts: &Facts{Branches: []Branch{
			{Group: "start_time", Name: "start_boottime", Needs: "kernel >= 5.5", Taken: true},
			{Group: "start_time", Name: "real_start_time", Needs: "kernel < 5.5", Synthetic: synthetic},
		}}}
	}
	s := Summary{Kernels: []KernelResult{k("5.10", false), k("6.1", true)}}
	var real BranchCoverage
	for _, c := range Coverage(s) {
		if c.Name == "real_start_time" {
			real = c
		}
	}
	assert.False(t, real.Covered(), "%+v", real)
	assert.Equal(t, []string{"6.1"}, real.Synthetic)
	md := Markdown(s)
	assert.Contains(t, md, "⚠️ **not covered**; exercised with synthetic BTF on `6.1`")
	assert.Contains(t, md, "exercised with synthetic BTF on `6.1`, which is no real kernel's BTF")
	assert.NotContains(t, md, "✅ `6.1`")
}
