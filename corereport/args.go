package corereport

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/cilium/ebpf"

	"github.com/corematrix/corematrix/argread"
	"github.com/corematrix/corematrix/btfproto"
	"github.com/corematrix/corematrix/report"
)

// Args is the argument check of a Matrix: for every kprobe, kretprobe,
// fentry and fexit program, each argument it reads (see package argread)
// and whether the target's parameter at that position keeps its type
// across the kernels. CO-RE cannot see a prototype change: the object loads
// and reads something else.
type Args struct {
	// Kernels labels the kernels compared, in Matrix.Kernels order, the
	// kernels without BTF left out.
	Kernels []string `json:"kernels"`
	// Findings has one entry per argument read, by program, and one per use
	// of the context the analysis cannot follow (verdict unknown).
	Findings []argread.Finding `json:"findings"`
	// ContextOnly names the traced programs that use their context only as
	// a helper's context (bpf_get_stackid, bpf_perf_event_output): they
	// read no argument, and are listed so that none is silently absent.
	ContextOnly []string `json:"context_only,omitempty"`
	// Prototypes has every traced function's prototype per kernel, sorted
	// by program name.
	Prototypes []Prototype `json:"prototypes"`
	// Summary is one line: "argument types stable across 5.10..latest" or
	// what drifted.
	Summary string `json:"summary"`
}

// CheckArgs runs the argument check of spec over kernels (those of m that
// have BTF, in column order) and records it in m.Args.
func (m *Matrix) CheckArgs(spec *ebpf.CollectionSpec, kernels []argread.KernelBTF) error {
	a, err := CheckArgs(spec, kernels)
	if err != nil {
		return err
	}
	m.Args = a
	return nil
}

// CheckArgs runs the argument check of spec over kernels, in order.
func CheckArgs(spec *ebpf.CollectionSpec, kernels []argread.KernelBTF) (*Args, error) {
	res, err := argread.Check(spec, kernels)
	if err != nil {
		return nil, fmt.Errorf("argument check: %w", err)
	}
	a := &Args{Findings: res.Findings, ContextOnly: res.ContextOnly}
	for _, k := range kernels {
		a.Kernels = append(a.Kernels, k.Name)
	}
	for _, name := range sortedNames(spec.Programs) {
		_, target, ok := argread.Traced(spec.Programs[name])
		if !ok || slices.ContainsFunc(a.Prototypes, func(p Prototype) bool { return p.Function == target }) {
			continue
		}
		p := Prototype{Function: target}
		for _, k := range kernels {
			v := btfproto.Version{Kernel: k.Name}
			proto, err := btfproto.Lookup(k.BTF, target)
			switch {
			case err == nil:
				v.Proto = &proto
			case errors.Is(err, btfproto.ErrNotFound):
				v.Err = err
			default:
				return nil, fmt.Errorf("argument check: kernel %s: %w", k.Name, err)
			}
			p.Versions = append(p.Versions, v)
		}
		a.Prototypes = append(a.Prototypes, p)
	}
	a.Summary = a.summary()
	return a, nil
}

// Prototype is one traced function's prototype on each kernel.
type Prototype struct {
	Function string `json:"function"`
	// Versions has one entry per kernel, in Args.Kernels order; Proto is
	// nil where the function is not in the kernel's BTF.
	Versions []btfproto.Version `json:"versions"`
}

// Changed reports whether the prototype differs between the kernels
// (missing on some but not all counts; missing everywhere does not).
func (p Prototype) Changed() bool {
	for _, v := range p.Versions[1:] {
		if protoText(v) != protoText(p.Versions[0]) {
			return true
		}
	}
	return false
}

func protoText(v btfproto.Version) string {
	if v.Proto == nil {
		return ""
	}
	return v.Proto.String()
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Report is the argument check as the run report carries it (summary.md).
func (a *Args) Report() *report.Args {
	r := &report.Args{Summary: a.Summary, Notes: a.notes()}
	for _, f := range a.Findings {
		switch f.Verdict {
		case argread.Drift:
			r.Drift++
		case argread.Unknown:
			r.Unknown++
		}
	}
	return r
}

// Drifts counts the findings whose verdict is drift.
func (a *Args) Drifts() int {
	if a == nil {
		return 0
	}
	n := 0
	for _, f := range a.Findings {
		if f.Verdict == argread.Drift {
			n++
		}
	}
	return n
}

func (a *Args) summary() string {
	span := "no kernel"
	if n := len(a.Kernels); n == 1 {
		span = a.Kernels[0]
	} else if n > 1 {
		span = a.Kernels[0] + ".." + a.Kernels[n-1]
	}
	if len(a.Findings) == 0 {
		return "no kprobe, kretprobe, fentry or fexit program reads an argument"
	}
	count := map[argread.Verdict]int{}
	for _, f := range a.Findings {
		count[f.Verdict]++
	}
	var also []string
	for _, v := range []argread.Verdict{argread.Selected, argread.DeadEverywhere, argread.Unknown} {
		if count[v] > 0 {
			also = append(also, fmt.Sprintf("%d %s", count[v], verdictShort[v]))
		}
	}
	rest := ""
	if len(also) > 0 {
		rest = "; " + strings.Join(also, ", ")
	}
	if count[argread.Drift] > 0 {
		return fmt.Sprintf("argument DRIFT across %s: %d of %d reads change type%s (see below)", span, count[argread.Drift], len(a.Findings), rest)
	}
	return fmt.Sprintf("argument types stable across %s (%d reads%s)", span, len(a.Findings), rest)
}

// verdictShort names the verdicts in the summary line.
var verdictShort = map[argread.Verdict]string{
	argread.Selected:       "selected by CO-RE check",
	argread.DeadEverywhere: "dead on every kernel",
	argread.Unknown:        "unknown",
}

// cellText is one read on one kernel as the tables show it: the type read
// (with what it is when that differs from the row, as for fexit), "(dead)"
// where the read is dead on that kernel, "?" without a prototype, "no arg
// N" past the last parameter, "(unknown)" where the analysis lost it.
func cellText(f argread.Finding, c argread.Cell) string {
	switch c.State {
	case argread.Dead:
		return "(dead)"
	case argread.NoTarget:
		return "?"
	case argread.NoParam:
		return "no " + c.Label
	case argread.Lost:
		return "(unknown)"
	}
	if c.Label != f.Label() {
		return c.Type + " (" + c.Label + ")"
	}
	return c.Type
}

// verdictText is the verdict column: "unknown: why" for an unknown one.
func verdictText(f argread.Finding) string {
	if f.Verdict == argread.Unknown && f.Detail != "" {
		return "unknown: " + f.Detail
	}
	return string(f.Verdict)
}

// notes explains each drift and unknown finding, with the target's
// prototypes on the kernels that disagree.
func (a *Args) notes() []string {
	var out []string
	for _, f := range a.Findings {
		switch f.Verdict {
		case argread.Drift:
			out = append(out, fmt.Sprintf("%s DRIFT: %s %s %s via %s: %s", f.Program, f.Attach, f.Target, f.Label(), f.Via, f.Detail))
			seen := map[string]bool{}
			for _, c := range f.Cells {
				if c.Proto != "" && !seen[c.Proto] {
					seen[c.Proto] = true
					out = append(out, fmt.Sprintf("  %s: %s", c.Kernel, c.Proto))
				}
			}
		case argread.Unknown:
			out = append(out, fmt.Sprintf("%s unknown: %s %s %s via %s: %s", f.Program, f.Attach, f.Target, f.Label(), f.Via, f.Detail))
		}
	}
	if len(a.ContextOnly) > 0 {
		out = append(out, "reading no argument (context passed to helpers only): "+strings.Join(a.ContextOnly, ", "))
	}
	return out
}

// writeTable writes the argument check as a plain-text table.
func (a *Args) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "\nARGUMENTS: %s\n", a.Summary)
	if len(a.Findings) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "PROGRAM\tTARGET\tREADS\tVIA")
	for _, k := range a.Kernels {
		fmt.Fprintf(tw, "\t%s", k)
	}
	fmt.Fprintln(tw, "\tVERDICT")
	for _, f := range a.Findings {
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s", f.Program, f.Attach, f.Target, f.Label(), f.Via)
		for _, c := range f.Cells {
			fmt.Fprintf(tw, "\t%s", cellText(f, c))
		}
		fmt.Fprintf(tw, "\t%s\n", verdictText(f))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range a.notes() {
		fmt.Fprintln(w, n)
	}
	_, err := fmt.Fprintln(w, argsLegend)
	return err
}

// argsLegend explains the cells of the argument table that are not types.
const argsLegend = "(dead): dead on this kernel: after CO-RE relocation for it the read is unreachable or its value reaches no use (a CO-RE check picks the argument by kernel: not drift); ?: the target is not in that kernel's BTF (absent or inlined); (unknown): the analysis cannot follow the read there."

// writeMarkdown writes the argument check as a Markdown section.
func (a *Args) writeMarkdown(b *strings.Builder) {
	fmt.Fprintf(b, "\n#### Arguments read\n\n%s\n", mdEscape(a.Summary))
	if len(a.Findings) == 0 {
		return
	}
	b.WriteString("\n")
	t := report.MarkdownTable{Head: []string{"program", "target", "reads", "via"}}
	for _, k := range a.Kernels {
		t.Head = append(t.Head, mdEscape(k))
	}
	t.Head = append(t.Head, "verdict")
	for _, f := range a.Findings {
		row := []string{mdEscape(f.Program), mdEscape(string(f.Attach)) + " " + report.MarkdownCode(f.Target), mdEscape(f.Label()), report.MarkdownCode(f.Via)}
		for _, c := range f.Cells {
			row = append(row, mdEscape(cellText(f, c)))
		}
		t.Add(append(row, bold(mdEscape(verdictText(f)), f.Verdict == argread.Drift))...)
	}
	t.Write(b)
	if notes := a.notes(); len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			if strings.HasPrefix(n, "  ") {
				fmt.Fprintf(b, "  - `%s`\n", strings.TrimSpace(n))
				continue
			}
			fmt.Fprintf(b, "- %s\n", mdEscape(n))
		}
	}
	b.WriteString("\n" + argsLegend + "\n")
}
