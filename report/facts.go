package report

import (
	"slices"
	"sort"
	"strings"
)

// Agreement is how a program's real load verdict on one kernel compares with
// the offline prediction.
type Agreement string

const (
	// Agree: predicted and real load verdicts are the same.
	Agree Agreement = "agree"
	// Disagree: the program loaded though predicted to fail, or the reverse.
	Disagree Agreement = "disagree"
	// NoPrediction: the program was loaded but no prediction names it.
	NoPrediction Agreement = "no-prediction"
	// NotAttempted: a prediction names the program but the payload did not
	// report loading it (the kernel failed before, or the payload skipped it).
	NotAttempted Agreement = "not-attempted"
	// Unpredicted: the prediction said the kernel's BTF cannot tell whether
	// the program loads (Prediction.Unknown); the real verdict stands alone.
	Unpredicted Agreement = "unknown"
)

// ProgramCheck compares one program's prediction with its real load on one kernel.
type ProgramCheck struct {
	Kernel    string
	Program   string
	Agreement Agreement
	// Predicted is the offline verdict; meaningful unless Agreement is NoPrediction.
	Predicted bool
	// Reason is why the prediction says the load fails, or, when Agreement
	// is Unpredicted, why it cannot tell.
	Reason string
	// Causes are the checks the prediction blames for a failure ("core",
	// "helper", "kfunc", ...; Prediction.Causes).
	Causes []string
	// ActualCause is the check the real load error points to, when its text
	// is recognised (see LoadErrorCause).
	ActualCause string
	// OtherCause: predicted to fail and failed, but the real error points
	// to a cause the prediction did not name. A disagreement.
	OtherCause bool
	// Attach is the predicted attach outcome of a program predicted to
	// load, when not plain success: "fails: ..." or "unknown: ...".
	Attach string
	// Loaded is the real verdict; meaningful unless Agreement is NotAttempted.
	Loaded bool
	// Error is the real load error.
	Error string
}

// ProgramChecks compares prediction and reality for every program of kernel
// k, ordered by program name. It returns nil when k has neither a prediction
// nor loaded programs.
func ProgramChecks(k KernelResult) []ProgramCheck {
	var programs []ProgramStat
	if k.Facts != nil {
		programs = k.Facts.Programs
	}
	if k.Prediction == nil && len(programs) == 0 {
		return nil
	}
	actual := map[string]ProgramStat{}
	names := []string{}
	for _, p := range programs {
		if _, dup := actual[p.Name]; !dup {
			names = append(names, p.Name)
		}
		actual[p.Name] = p
	}
	var predicted map[string]bool
	var reasons, unknown, attach map[string]string
	var causes map[string][]string
	if k.Prediction != nil {
		predicted, reasons = k.Prediction.Programs, k.Prediction.Reasons
		unknown, attach, causes = k.Prediction.Unknown, k.Prediction.Attach, k.Prediction.Causes
	}
	for name := range predicted {
		if _, ok := actual[name]; !ok {
			names = append(names, name)
		}
	}
	for name := range unknown {
		if _, ok := actual[name]; !ok {
			if _, ok := predicted[name]; !ok {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	checks := make([]ProgramCheck, 0, len(names))
	for _, name := range names {
		c := ProgramCheck{Kernel: k.Kernel.Name, Program: name}
		p, ran := actual[name]
		pred, hasPred := predicted[name]
		why, isUnknown := unknown[name]
		c.Predicted, c.Reason, c.Causes, c.Attach = pred, reasons[name], causes[name], attach[name]
		c.Loaded, c.Error = p.Loaded, p.Error
		if ran && !p.Loaded {
			c.ActualCause = LoadErrorCause(p.Error)
		}
		switch {
		case isUnknown && !hasPred:
			c.Agreement, c.Reason = Unpredicted, why
			if !ran {
				c.Agreement = NotAttempted
			}
		case !hasPred:
			c.Agreement = NoPrediction
		case !ran:
			c.Agreement = NotAttempted
		case pred != p.Loaded:
			c.Agreement = Disagree
		case !pred && c.ActualCause != "" && len(c.Causes) > 0 && !slices.Contains(c.Causes, c.ActualCause):
			c.Agreement, c.OtherCause = Disagree, true
		default:
			c.Agreement = Agree
		}
		checks = append(checks, c)
	}
	return checks
}

// loadErrorCauses maps what a load error says to the check of the offline
// prediction (corereport.Check) that explains it, most specific first.
var loadErrorCauses = []struct{ text, cause string }{
	{"bad CO-RE relocation", "core"},
	{"CO-RE relocation failed", "core"},
	{"invalid func unknown#", "helper"},                                           // the verifier, for a helper id it does not know
	{"number of funcs in func_info doesn't match number of subprogs", "callback"}, // a BPF_PSEUDO_FUNC before 5.13
	{"kfunc", "kfunc"},                                                            // cilium/ebpf: kfunc "name": not supported
	{"create map", "map_type"},
}

// LoadErrorCause returns the check a program's load error points to ("core",
// "helper", "callback", "kfunc", "map_type"), or "" when the text is not
// recognised.
func LoadErrorCause(err string) string {
	for _, c := range loadErrorCauses {
		if strings.Contains(err, c.text) {
			return c.cause
		}
	}
	return ""
}

// Disagreements lists every program of every kernel of s whose real load
// verdict contradicts the offline prediction, in report order.
func Disagreements(s Summary) []ProgramCheck {
	var out []ProgramCheck
	for _, k := range normalize(s).Kernels {
		for _, c := range ProgramChecks(k) {
			if c.Agreement == Disagree {
				out = append(out, c)
			}
		}
	}
	return out
}

// BranchCoverage is one CO-RE branch known to any kernel of a run, with the
// kernels that took it.
type BranchCoverage struct {
	Group string
	Name  string
	// Needs says which kernels take the branch (from the first kernel that states it).
	Needs string
	// Kernels that took the branch, in report order; empty when no kernel did.
	Kernels []string
	// Synthetic are the kernels that exercised the branch only with
	// synthetic BTF (Branch.Synthetic): not coverage by a real kernel.
	Synthetic []string
}

// Covered reports whether any kernel of the run took the branch.
func (b BranchCoverage) Covered() bool { return len(b.Kernels) > 0 }

// Coverage lists every CO-RE branch named in any kernel's Facts with the
// kernels that took it. Branches are ordered by group, groups and branches in
// the order they are first named (kernels in report order).
func Coverage(s Summary) []BranchCoverage {
	var out []BranchCoverage
	index := map[[2]string]int{}
	for _, k := range normalize(s).Kernels {
		if k.Facts == nil {
			continue
		}
		for _, b := range k.Facts.Branches {
			key := [2]string{b.Group, b.Name}
			i, ok := index[key]
			if !ok {
				i = len(out)
				index[key] = i
				out = append(out, BranchCoverage{Group: b.Group, Name: b.Name})
			}
			if out[i].Needs == "" {
				out[i].Needs = b.Needs
			}
			if b.Taken && !slices.Contains(out[i].Kernels, k.Kernel.Name) {
				out[i].Kernels = append(out[i].Kernels, k.Kernel.Name)
			}
			if !b.Taken && b.Synthetic && !slices.Contains(out[i].Synthetic, k.Kernel.Name) {
				out[i].Synthetic = append(out[i].Synthetic, k.Kernel.Name)
			}
		}
	}
	// Keep each group's branches together, groups in order of first mention.
	groupOrder := map[string]int{}
	for _, b := range out {
		if _, ok := groupOrder[b.Group]; !ok {
			groupOrder[b.Group] = len(groupOrder)
		}
	}
	slices.SortStableFunc(out, func(a, b BranchCoverage) int {
		return groupOrder[a.Group] - groupOrder[b.Group]
	})
	return out
}

// Taken returns, per group, the branches kernel k took, groups in the order its
// Facts name them. A group in which k took no branch maps to nil.
func Taken(k KernelResult) (groups []string, taken map[string][]string) {
	taken = map[string][]string{}
	if k.Facts == nil {
		return nil, taken
	}
	for _, b := range k.Facts.Branches {
		if _, ok := taken[b.Group]; !ok {
			groups = append(groups, b.Group)
			taken[b.Group] = nil
		}
		if b.Taken {
			taken[b.Group] = append(taken[b.Group], b.Name)
		}
	}
	return groups, taken
}
