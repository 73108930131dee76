package report

import (
	"fmt"
	"html"
	"path/filepath"
	"sort"
	"strings"

	"github.com/corematrix/corematrix/internal/redact"
	"github.com/corematrix/corematrix/kernel"
)

// Lines of output shown per failed test, and of a panic trace, in summary.md.
const (
	failureLines = 20
	traceLines   = 40
)

// Markdown renders s as GitHub-flavoured Markdown (summary.md): a header with
// counts, any disagreement between offline prediction and reality, the kernels
// table, the tests x kernels matrix, the CO-RE branches each kernel took and
// branch coverage, verifier statistics, prediction vs reality, and the output
// of each failure. Sections with nothing to show are left out.
func Markdown(s Summary) string { return markdown(s, true) }

func markdown(s Summary, details bool) string {
	s = normalize(s)
	var b strings.Builder
	writeHeader(&b, s)
	writeDisagreements(&b, s)
	writeKernels(&b, s)
	writeRefused(&b, s)
	writeTests(&b, s)
	writeBranches(&b, s)
	writeVerifier(&b, s)
	writePredictions(&b, s)
	writeArgs(&b, s)
	writeFailures(&b, s, details)
	return b.String()
}

func writeHeader(b *strings.Builder, s Summary) {
	passed := 0
	for _, k := range s.Kernels {
		if k.Outcome.Passed() {
			passed++
		}
	}
	switch {
	case len(s.Kernels) == 0:
		fmt.Fprintf(b, "## corematrix: no kernels\n\n")
		return
	case passed == len(s.Kernels) && len(Disagreements(s)) > 0:
		fmt.Fprintf(b, "## corematrix: ⚠️ all %d kernel(s) passed, but the offline prediction was contradicted\n\n", len(s.Kernels))
	case passed == 1 && len(s.Kernels) == 1:
		fmt.Fprintf(b, "## corematrix: ✅ the kernel passed\n\n")
	case passed == len(s.Kernels):
		fmt.Fprintf(b, "## corematrix: ✅ all %d kernels passed\n\n", len(s.Kernels))
	default:
		fmt.Fprintf(b, "## corematrix: ❌ %d of %d kernels passed\n\n", passed, len(s.Kernels))
	}
	line := outcomeCounts(s, true)
	if s.Payload != "" {
		line += " · payload " + code(s.Payload)
	}
	if !s.Started.IsZero() && !s.Finished.IsZero() {
		line += fmt.Sprintf(" · %s (started %s)", duration(s.Finished.Sub(s.Started).Seconds()), s.Started.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	b.WriteString(line + "\n\n")
}

func writeDisagreements(b *strings.Builder, s Summary) {
	ds := Disagreements(s)
	if len(ds) == 0 {
		loads, kernels := 0, 0
		for _, k := range s.Kernels {
			n := 0
			for _, c := range ProgramChecks(k) {
				if c.Agreement == Agree {
					n++
				}
			}
			loads += n
			if n > 0 {
				kernels++
			}
		}
		if loads > 0 {
			fmt.Fprintf(b, "✅ The offline prediction matched every program load: %d load(s) on %d kernel(s).\n\n", loads, kernels)
		}
		return
	}
	fmt.Fprintf(b, "> ⚠️ **DISAGREE**: the offline prediction is wrong for %d program load(s):\n>\n", len(ds))
	for _, d := range ds {
		line := fmt.Sprintf("> - %s %s: predicted %s, actually %s", code(d.Kernel), code(d.Program), predictedText(d), loadedText(d))
		if d.OtherCause {
			line += fmt.Sprintf(": **another cause** (%s, not %s)", d.ActualCause, strings.Join(d.Causes, ", "))
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("\n")
}

func predictedText(c ProgramCheck) string {
	if c.Agreement == Unpredicted {
		return "unknown (" + cell(c.Reason) + ")"
	}
	if c.Predicted {
		if c.Attach != "" {
			return "loads, attach " + cell(c.Attach)
		}
		return "loads"
	}
	if c.Reason != "" {
		return "fails (" + cell(c.Reason) + ")"
	}
	return "fails"
}

func loadedText(c ProgramCheck) string {
	if c.Loaded {
		return "loaded"
	}
	if c.Error != "" {
		return "failed (" + cell(firstLine(c.Error)) + ")"
	}
	return "failed"
}

func writeKernels(b *strings.Builder, s Summary) {
	if len(s.Kernels) == 0 {
		return
	}
	b.WriteString("### Kernels\n\n")
	t := MarkdownTable{
		Head:  []string{"Kernel", "Arch", "Version", "Release", "Outcome", "Reason", "Tests", "Accel", "Boot", "Payload", "Total"},
		Align: []string{8: "---:", 9: "---:", 10: "---:"},
	}
	for _, k := range s.Kernels {
		t.Add(code(k.Kernel.Name), cell(archOf(k.Kernel)), versionCell(k.Kernel), cell(k.Kernel.Release),
			k.Outcome.Emoji()+" "+cell(string(k.Outcome)), cell(k.Reason), testsCell(k), cell(k.Accel),
			duration(k.Timings.Boot), duration(k.Timings.Payload), duration(k.Timings.Total))
	}
	t.Write(b)
	b.WriteString("\n")
}

// versionCell is the kernel's version and where it came from (the
// registry image, Debian suite and package, or local path), marked when its
// source was not verified (--allow-unverified) and when kernels.lock pinned
// the name to a source it does not resolve to by default.
func versionCell(k kernel.Kernel) string {
	c := cell(k.Version)
	if k.Source != "" {
		c += " · " + code(redact.URLs(k.Source))
	}
	if k.Unverified {
		c += " ⚠️ unverified"
	}
	if k.PinnedElsewhere {
		c += " ⚠️ pinned by kernels.lock to a non-default source"
	}
	return c
}

func testsCell(k KernelResult) string {
	c := countTests(k)
	var parts []string
	if c.pass > 0 {
		parts = append(parts, fmt.Sprintf("✅ %d", c.pass))
	}
	if c.fail > 0 {
		parts = append(parts, fmt.Sprintf("❌ %d", c.fail))
	}
	if c.skip > 0 {
		parts = append(parts, fmt.Sprintf("⏭ %d", c.skip))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, " ")
}

// kernelTable returns a table of a first column and one centred column per
// kernel.
func kernelTable(first string, s Summary) MarkdownTable {
	t := MarkdownTable{Head: []string{first}, Align: []string{"---"}}
	for _, k := range s.Kernels {
		t.Head = append(t.Head, code(k.Kernel.Name))
		t.Align = append(t.Align, ":---:")
	}
	return t
}

// outcomeCell is what a kernel-column cell says of a kernel with no value
// there: its outcome when it ended abnormally, else "—".
func outcomeCell(k KernelResult) string {
	if abnormal(k.Outcome) {
		return k.Outcome.Emoji() + " " + cell(string(k.Outcome))
	}
	return "—"
}

// abnormal reports whether the kernel ended without finishing its payload, so
// a missing test is explained by the outcome rather than absent from the suite.
func abnormal(o Outcome) bool { return o != Pass && o != Fail && o != Skip }

func writeTests(b *strings.Builder, s Summary) {
	var names []string
	seen := map[string]bool{}
	status := make([]map[string]string, len(s.Kernels))
	for i, k := range s.Kernels {
		status[i] = map[string]string{}
		for _, t := range k.Tests {
			status[i][t.Name] = t.Status
			if !seen[t.Name] {
				seen[t.Name] = true
				names = append(names, t.Name)
			}
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	b.WriteString("### Tests\n\n")
	t := kernelTable("Test", s)
	for _, n := range names {
		row := []string{code(n)}
		for i, k := range s.Kernels {
			if st, ok := status[i][n]; ok {
				row = append(row, testEmoji(st))
			} else {
				row = append(row, outcomeCell(k))
			}
		}
		t.Add(row...)
	}
	t.Write(b)
	b.WriteString("\n")
}

func writeBranches(b *strings.Builder, s Summary) {
	cov := Coverage(s)
	if len(cov) == 0 {
		return
	}
	covered := 0
	for _, c := range cov {
		if c.Covered() {
			covered++
		}
	}
	fmt.Fprintf(b, "### CO-RE branches\n\n%d of %d branches exercised by this matrix. The branch of each CO-RE decision every kernel took:\n\n", covered, len(cov))
	var groups []string
	for _, c := range cov {
		if len(groups) == 0 || groups[len(groups)-1] != c.Group {
			groups = append(groups, c.Group)
		}
	}
	t := kernelTable("Group", s)
	taken := make([]map[string][]string, len(s.Kernels))
	for i, k := range s.Kernels {
		_, taken[i] = Taken(k)
	}
	for _, g := range groups {
		row := []string{code(g)}
		for i, k := range s.Kernels {
			names, known := taken[i][g]
			switch {
			case len(names) > 0:
				cs := make([]string, len(names))
				for j, n := range names {
					cs[j] = code(n)
				}
				row = append(row, strings.Join(cs, ", "))
			case known:
				row = append(row, "none")
			default:
				row = append(row, outcomeCell(k))
			}
		}
		t.Add(row...)
	}
	t.Write(b)
	b.WriteString("\n#### Branch coverage\n\n")
	ct := MarkdownTable{Head: []string{"Group", "Branch", "Needs", "Taken by"}}
	var uncovered []BranchCoverage
	for _, c := range cov {
		by := "⚠️ **not covered**"
		if len(c.Synthetic) > 0 {
			by += "; " + syntheticText(c)
		}
		if c.Covered() {
			ks := make([]string, len(c.Kernels))
			for i, k := range c.Kernels {
				ks[i] = code(k)
			}
			by = "✅ " + strings.Join(ks, ", ")
		} else {
			uncovered = append(uncovered, c)
		}
		ct.Add(code(c.Group), code(c.Name), cell(c.Needs), by)
	}
	ct.Write(b)
	b.WriteString("\n")
	if len(uncovered) > 0 {
		b.WriteString("Branches no kernel of this matrix exercised:\n\n")
		for _, c := range uncovered {
			synth := ""
			if len(c.Synthetic) > 0 {
				synth = "; " + syntheticText(c) + ", which is no real kernel's BTF"
			}
			fmt.Fprintf(b, "- %s (%s): not covered%s%s\n", code(c.Name), code(c.Group), needsText(c.Needs), synth)
		}
		b.WriteString("\n")
	}
}

// syntheticText says where c was exercised with synthetic BTF only:
// "exercised with synthetic BTF on `6.1`".
func syntheticText(c BranchCoverage) string {
	ks := make([]string, len(c.Synthetic))
	for i, k := range c.Synthetic {
		ks[i] = code(k)
	}
	return "exercised with synthetic BTF on " + strings.Join(ks, ", ")
}

// needsText turns a branch's Needs ("kernel < 5.5") into " — needs a kernel < 5.5".
func needsText(needs string) string {
	needs = strings.TrimSpace(needs)
	switch {
	case needs == "":
		return ""
	case strings.HasPrefix(needs, "kernel "):
		return " — needs a " + cell(needs)
	default:
		return " — needs " + cell(needs)
	}
}

func writeVerifier(b *strings.Builder, s Summary) {
	var names []string
	seen := map[string]bool{}
	stats := make([]map[string]ProgramStat, len(s.Kernels))
	for i, k := range s.Kernels {
		stats[i] = map[string]ProgramStat{}
		if k.Facts == nil {
			continue
		}
		for _, p := range k.Facts.Programs {
			stats[i][p.Name] = p
			if !seen[p.Name] {
				seen[p.Name] = true
				names = append(names, p.Name)
			}
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	b.WriteString("### Verifier\n\nInstructions the verifier processed and load time, per program and kernel:\n\n")
	t := MarkdownTable{Head: []string{"Program"}, Align: []string{"---"}}
	for _, k := range s.Kernels {
		t.Head = append(t.Head, code(k.Kernel.Name)+" insns", code(k.Kernel.Name)+" ms")
		t.Align = append(t.Align, "---:", "---:")
	}
	for _, n := range names {
		row := []string{code(n)}
		for i := range s.Kernels {
			row = append(row, verifierCells(stats[i], n)...)
		}
		t.Add(row...)
	}
	t.Write(b)
	b.WriteString("\n")
}

// verifierCells are the instructions and load time cells of program n
// among stats, one kernel's.
func verifierCells(stats map[string]ProgramStat, n string) []string {
	p, ok := stats[n]
	switch {
	case !ok:
		return []string{"—", "—"}
	case !p.Loaded:
		return []string{"❌ not loaded", "—"}
	}
	insns := "—"
	if p.VerifiedInsns > 0 {
		insns = fmt.Sprint(p.VerifiedInsns)
	}
	ms := "—"
	if p.LoadMillis > 0 {
		ms = fmt.Sprintf("%.1f", p.LoadMillis)
	}
	return []string{insns, ms}
}

func writePredictions(b *strings.Builder, s Summary) {
	anyPrediction, anyProgram := false, false
	for _, k := range s.Kernels {
		anyPrediction = anyPrediction || k.Prediction != nil
		anyProgram = anyProgram || (k.Facts != nil && len(k.Facts.Programs) > 0)
	}
	if !anyPrediction && !anyProgram {
		return
	}
	b.WriteString("### Offline prediction vs reality\n\n")
	if !anyPrediction {
		b.WriteString("No offline prediction was recorded for this run.\n\n")
		return
	}
	// With nothing to look at, keep the long table folded.
	folded := len(Disagreements(s)) == 0
	if folded {
		b.WriteString("<details><summary>No program load contradicted the prediction (table)</summary>\n\n")
	}
	t := MarkdownTable{Head: []string{"Kernel", "Program", "Predicted", "Actual", "Verdict"}}
	for _, k := range s.Kernels {
		checks := ProgramChecks(k)
		if len(checks) == 0 {
			t.Add(code(k.Kernel.Name), "—", "—", "—", k.Outcome.Emoji()+" "+cell(string(k.Outcome)))
			continue
		}
		for _, c := range checks {
			pred, act := "—", "—"
			switch {
			case c.Agreement == Unpredicted:
				pred = "❔ " + predictedText(c)
			case c.Agreement == NoPrediction:
			case !c.Predicted:
				pred = "❌ " + predictedText(c)
			default:
				pred = "✅ " + predictedText(c)
			}
			if c.Agreement != NotAttempted {
				act = "✅ loaded"
				if !c.Loaded {
					act = "❌ " + loadedText(c)
				}
			}
			verdict := map[Agreement]string{
				Agree:        "✅ agree",
				Disagree:     "⚠️ **DISAGREE**",
				NoPrediction: "no prediction",
				NotAttempted: "not attempted",
				Unpredicted:  "BTF could not tell",
			}[c.Agreement]
			if c.OtherCause {
				verdict = "⚠️ **DISAGREE** (another cause: " + cell(c.ActualCause) + ")"
			}
			t.Add(code(k.Kernel.Name), code(c.Program), pred, act, verdict)
		}
	}
	t.Write(b)
	b.WriteString("\n")
	if folded {
		b.WriteString("</details>\n\n")
	}
}

func writeFailures(b *strings.Builder, s Summary, details bool) {
	type item struct{ summary, body string }
	var items []item
	for _, k := range s.Kernels {
		failedTest := false
		for _, t := range k.Tests {
			if t.Status == "pass" || t.Status == "skip" {
				continue
			}
			failedTest = true
			items = append(items, item{
				summary: fmt.Sprintf("❌ <code>%s</code> · %s", htmlLine(k.Kernel.Name), htmlLine(t.Name)),
				body:    excerpt(testOutput(t.Output), failureLines),
			})
		}
		if k.Outcome.Passed() || (failedTest && k.Trace == "") {
			continue
		}
		body := "Reason: " + cell(k.Reason) + "\n"
		if consoleKept(k.Outcome) {
			body += "\nConsole log: " + code(filepath.ToSlash(filepath.Join(kernelDirName(k.Kernel.Name), "console.log"))) + " in the report.\n"
		}
		if k.Trace != "" {
			body += "\n" + excerpt(k.Trace, traceLines)
		}
		if k.OutputTail != "" && !failedTest {
			body += "\nLast lines of the output (" + code(filepath.ToSlash(filepath.Join(kernelDirName(k.Kernel.Name), "output.log"))) + " in the report):\n\n" + excerpt(k.OutputTail, TailLines)
		}
		items = append(items, item{
			summary: fmt.Sprintf("%s <code>%s</code> · %s", k.Outcome.Emoji(), htmlLine(k.Kernel.Name), htmlLine(string(k.Outcome))),
			body:    body,
		})
	}
	if len(items) == 0 {
		return
	}
	b.WriteString("### Failures\n\n")
	if !details {
		fmt.Fprintf(b, "%d failure(s); their output is left out to fit the job summary: see summary.md and each kernel's results.json.\n\n", len(items))
		return
	}
	for _, it := range items {
		fmt.Fprintf(b, "<details><summary>%s</summary>\n\n%s\n</details>\n\n", it.summary, it.body)
	}
}

// htmlLine escapes s for HTML on one line: a line break inside a <summary>
// could end the HTML block and start Markdown of the text's choosing.
func htmlLine(s string) string {
	return htmlLinks.Replace(html.EscapeString(strings.Join(strings.Fields(s), " ")))
}

// htmlLinks writes as entities what could make a link should the line be
// read as Markdown after all.
var htmlLinks = strings.NewReplacer("[", "&#91;", "]", "&#93;", "://", "&#58;//", "www.", "www&#46;", "WWW.", "WWW&#46;")

// consoleKept reports whether a kernel with outcome o booted far enough for
// the runner to keep a console log worth reading.
func consoleKept(o Outcome) bool {
	return o == Fail || o == Skip || o == Panic || o == Timeout || o == BootFailure
}

// excerpt renders the first n lines of text as a fenced code block, noting how
// many lines were left out.
func excerpt(text string, n int) string {
	text = strings.TrimRight(text, "\n")
	if strings.TrimSpace(text) == "" {
		return "_(no output)_\n"
	}
	head, more := headLines(text, n)
	f := fence(head)
	out := f + "\n" + head + "\n" + f + "\n"
	if more > 0 {
		out += fmt.Sprintf("\n_… %d more line(s) in results.json_\n", more)
	}
	return out
}

// writeArgs writes the offline argument check: one line when every read
// keeps its type, the notes of each drift and unknown read otherwise.
func writeArgs(b *strings.Builder, s Summary) {
	if s.Args == nil {
		return
	}
	summary := cellEscape(s.Args.Summary)
	if s.Args.Drift > 0 {
		summary = "⚠️ " + summary
	}
	fmt.Fprintf(b, "### Arguments read by the probes\n\n%s\n\n", summary)
	for _, n := range s.Args.Notes {
		if strings.HasPrefix(n, "  ") {
			fmt.Fprintf(b, "  - %s\n", code(n))
			continue
		}
		fmt.Fprintf(b, "- %s\n", cellEscape(n))
	}
	if len(s.Args.Notes) > 0 {
		b.WriteString("\n")
	}
}

// writeRefused lists the files guests sent back that were not written on
// the host, with the reason (paths and reasons are the guest's text).
func writeRefused(b *strings.Builder, s Summary) {
	n := 0
	for _, k := range s.Kernels {
		n += len(k.Refused)
	}
	if n == 0 {
		return
	}
	fmt.Fprintf(b, "### Files refused\n\n%d file(s) sent back by a guest were refused (not written on the host):\n\n", n)
	t := MarkdownTable{Head: []string{"Kernel", "File", "Reason"}}
	for _, k := range s.Kernels {
		for _, r := range k.Refused {
			t.Add(code(k.Kernel.Name), code(r.Path), cell(r.Reason))
		}
	}
	t.Write(b)
	b.WriteString("\n")
}
