package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/cilium/ebpf"

	"github.com/corematrix/corematrix/corereport"
	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest"
	"github.com/corematrix/corematrix/vmtest/initramfs"
)

func init() {
	register("load", "boot each kernel, load and attach every program of a BPF object alone, and compare with the offline prediction", runLoad)
}

// guestObjects is where the objects travel in the guest.
const guestObjects = "/corematrix/load"

// loadObject is one object of a load run.
type loadObject struct {
	name, host, guest string
	spec              *ebpf.CollectionSpec
}

// Agreement classes of one program on one kernel: the offline prediction
// against what the kernel did.
const (
	agreeRight    = "right"
	agreeWrong    = "WRONG"
	agreeUnknown  = "unknown"
	agreeVerifier = "verifier-only"
	agreeAttach   = "attach-only"
	agreeNoResult = "no result"
	// The prediction says user space must supply something first (a map
	// size, an attach target): no kernel verdict to compare.
	agreeInput = "needs input"
	// cilium/ebpf refused the object before asking the kernel (a
	// loader-specific limitation, not a kernel verdict).
	agreeLoader = "loader"
)

// loadResult is one program on one kernel: what the guest saw, and the
// prediction beside it.
type loadResult struct {
	// Object is the object as named on the command line.
	Object   string `json:"object"`
	Program  string `json:"program"`
	Kernel   string `json:"kernel"`
	Version  string `json:"version,omitempty"`
	Loaded   bool   `json:"loaded"`
	Attached *bool  `json:"attached"`
	Error    string `json:"error,omitempty"`
	// Stage is where Error happened: map (creating a map the program
	// uses), load, loader or attach.
	Stage string `json:"stage,omitempty"`
	// NotTried says why attaching was not tried.
	NotTried string `json:"attach_not_tried,omitempty"`
	Insns    int    `json:"insns"`
	// Predicted is the offline verdict as core-report prints it ("loads",
	// "loads; attach FAILS", "FAILS", "unknown").
	Predicted string `json:"predicted"`
	// Why is the prediction's reason for anything but "loads".
	Why string `json:"predicted_why,omitempty"`
	// Maps is the prediction for the maps the program uses, where it is
	// more than "created": "SUBJECT: VERDICT (DETAIL)", one per map check.
	Maps []string `json:"predicted_maps,omitempty"`
	// Agreement classes the pair: right, WRONG (a confident verdict the
	// kernel contradicted), unknown, verifier-only (predicted to load, the
	// verifier refused: not predicted), attach-only (predicted to load and
	// attach, the attach failed), no result.
	Agreement string `json:"agreement"`
}

// runLoad is `vmtest load`.
func runLoad(ctx context.Context, args []string) error {
	fs := newFlags("vmtest load", "vmtest load --kernels 5.10,6.1 [--format text|markdown|json] [--summary] OBJECT...\n       vmtest load --from RUN.json [--format ...] [--summary]",
		"Boots each kernel once (one at a time), loads every program of each BPF ELF object alone (with only\n"+
			"the maps it uses) and attaches it to its section's target, and prints per program and kernel:\n"+
			"loaded, attached, the error (the verifier log's tail for a refusal; a refused map creation is\n"+
			"attributed to the map), the instructions the verifier processed, and the offline prediction\n"+
			"(core-report) beside it; every disagreement is marked. --from takes the JSON of an earlier run and\n"+
			"predicts again without booting. Exit code 1 when a confident prediction was wrong.")
	kl := addKernelFlag(fs, "kernels", "kernel")
	f := addFormatFlag(fs)
	from := fs.String("from", "", "the JSON rows of an earlier run (`FILE`): keep what the kernels did, predict again, boot nothing")
	summary := fs.Bool("summary", false, "print only the agreement per kernel and the disagreements (with --format markdown: as a table)")
	vf := addVMFlags(fs)
	kf := addKernelFlags(fs)
	rest, err := fs.parse(args, true)
	if err != nil {
		return err
	}
	switch {
	case *from != "" && (kl.kernels != nil || len(rest) > 0):
		return fs.failf("--from takes the kernels and objects of the earlier run: give no --kernels and no OBJECT")
	case *from == "" && kl.kernels == nil:
		return fs.failf("missing --kernels: the kernels to boot (e.g. --kernels 5.10,6.1)")
	case *from == "" && len(rest) == 0:
		return fs.failf("missing OBJECT: the BPF ELF object(s) to load")
	}
	resolver, err := kf.resolver()
	if err != nil {
		return usageError(err)
	}
	btfDir, err := btfCacheDir("", kf.cacheDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmtest load: %v; not caching BTF\n", err)
	}
	bc := newBTFCache(btfDir)
	var rows []loadResult
	if *from != "" {
		rows, err = repredict(ctx, *from, resolver, bc)
	} else {
		rows, err = bootRows(ctx, kl.kernels, rest, vf, resolver, bc)
	}
	if err != nil {
		return err
	}
	if *summary {
		var b strings.Builder
		if *f == formatMarkdown {
			writeLoadTable(&b, rows)
		}
		writeLoadSummary(&b, rows, *f == formatMarkdown)
		_, err = io.WriteString(os.Stdout, strings.TrimPrefix(b.String(), "\n"))
	} else {
		err = writeLoad(os.Stdout, *f, rows)
	}
	if err != nil {
		return exitWith(exitInfra, err)
	}
	for _, row := range rows {
		if row.Agreement == agreeWrong {
			return exitWith(exitFail, nil)
		}
	}
	return nil
}

// bootRows boots each kernel once and loads the objects named by args.
func bootRows(ctx context.Context, ks []kernel.Kernel, args []string, vf *vmFlags, resolver kernel.Resolver, bc *corereport.BTFCache) ([]loadResult, error) {
	objs, err := loadObjects(args)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, exitWith(exitInfra, fmt.Errorf("find own executable: %w", err))
	}
	cfg := vmtest.Config{Kernels: ks, Resolver: resolver, Payload: exe, Args: []string{loaderCommand}, Raw: true, Jobs: 1}
	vf.apply(&cfg)
	for _, o := range objs {
		cfg.Args = append(cfg.Args, o.guest)
		cfg.Files = append(cfg.Files, initramfs.File{Name: o.guest, Source: o.host, Mode: 0o644})
	}
	dir, err := os.MkdirTemp("", "vmtest-load-")
	if err != nil {
		return nil, exitWith(exitInfra, err)
	}
	defer os.RemoveAll(dir)
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var rows []loadResult
	for _, k := range ks {
		rows = append(rows, loadOn(ctx, r, resolver, bc, k, objs, filepath.Join(dir, fmt.Sprint(len(rows))))...)
		if ctx.Err() != nil {
			break
		}
	}
	return rows, nil
}

// loadObjects reads the objects named on the command line. An object
// cilium/ebpf cannot read (a libbpf-only feature such as USDT's weak maps)
// is left out with a warning, not the whole run.
func loadObjects(args []string) ([]loadObject, error) {
	var objs []loadObject
	for _, arg := range args {
		abs, err := filepath.Abs(arg)
		if err != nil {
			return nil, usageError(err)
		}
		spec, err := corereport.LoadObject(abs)
		if err != nil {
			fmt.Fprintf(os.Stderr, "vmtest load: left out %s: cilium/ebpf cannot read it: %v\n", arg, err)
			continue
		}
		objs = append(objs, loadObject{name: arg, host: abs, guest: fmt.Sprintf("%s/%d-%s", guestObjects, len(objs), filepath.Base(abs)), spec: spec})
	}
	if len(objs) == 0 {
		return nil, usageError(errors.New("no object to load"))
	}
	return objs, nil
}

// loadOn boots kernel k once, loads every object in it and compares each
// program's fate with its offline prediction; dir receives the kernel's
// logs.
func loadOn(ctx context.Context, r *vmtest.Runner, resolver kernel.Resolver, bc *corereport.BTFCache, k kernel.Kernel, objs []loadObject, dir string) []loadResult {
	resolved, kerr := resolver.Resolve(ctx, k)
	fmt.Fprintf(os.Stderr, "vmtest load: booting %s\n", k.Name)
	res := r.Kernel(ctx, k, dir, nil)
	got, perr := parseLoadOutput(res.Output, objs)
	if res.Outcome != report.Pass {
		fmt.Fprintf(os.Stderr, "vmtest load: kernel %s: %s: %s\n", k.Name, res.Outcome, res.Reason)
	}
	if perr != nil {
		fmt.Fprintf(os.Stderr, "vmtest load: kernel %s: %v\n", k.Name, perr)
	}
	var rows []loadResult
	for _, o := range objs {
		var pred *corereport.Result
		err := kerr
		if err == nil {
			pred, err = predictOn(o.spec, bc, resolved)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "vmtest load: prediction for %s on %s: %v\n", o.name, k.Name, err)
		}
		rows = append(rows, compareLoad(o, k.Name, resolved.Version, got[o.guest], pred)...)
	}
	return rows
}

// predictOn is the offline prediction for spec on kernel k, with the
// kernel's config and kallsyms.
func predictOn(spec *ebpf.CollectionSpec, bc *corereport.BTFCache, k kernel.Kernel) (*corereport.Result, error) {
	kbtf, err := bc.Load(k.Path, k.SHA256)
	if err != nil {
		return nil, err
	}
	return corereport.RelocateWith(spec, kbtf, bc.Facts(k), corereport.Options{})
}

// maxLoadLine bounds one result line from the guest.
const maxLoadLine = 64 << 10

// parseLoadOutput reads the guest loader's result lines out of the
// payload's output, by guest object path and program. The guest is not
// trusted: a line that does not parse, names an object or program the run
// lacks or repeats one is an error.
func parseLoadOutput(out []byte, objs []loadObject) (map[string]map[string]loadRow, error) {
	specs := map[string]*ebpf.CollectionSpec{}
	want := 0
	for _, o := range objs {
		specs[o.guest] = o.spec
		want += len(o.spec.Programs)
	}
	got := map[string]map[string]loadRow{}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 4096), maxLoadLine)
	for sc.Scan() {
		line, ok := bytes.CutPrefix(sc.Bytes(), []byte(loadLinePrefix))
		if !ok {
			continue
		}
		var row loadRow
		if err := json.Unmarshal(line, &row); err != nil {
			return got, fmt.Errorf("guest result line: %w", err)
		}
		spec := specs[row.Object]
		if spec == nil || spec.Programs[row.Program] == nil {
			return got, fmt.Errorf("guest reported program %q of %q, which the run lacks", row.Program, row.Object)
		}
		if got[row.Object] == nil {
			got[row.Object] = map[string]loadRow{}
		}
		if _, dup := got[row.Object][row.Program]; dup {
			return got, fmt.Errorf("guest reported program %q of %s twice", row.Program, row.Object)
		}
		row.Error = clip(row.Error)
		row.NotTried = clip(row.NotTried)
		got[row.Object][row.Program] = row
		n++
	}
	if err := sc.Err(); err != nil {
		return got, fmt.Errorf("guest output: %w", err)
	}
	if n < want {
		return got, fmt.Errorf("guest reported %d of %d programs", n, want)
	}
	return got, nil
}

// compareLoad lines up what kernel name did with the prediction, one row
// per program of spec.
func compareLoad(o loadObject, name, version string, got map[string]loadRow, pred *corereport.Result) []loadResult {
	spec := o.spec
	byName := map[string]corereport.Program{}
	if pred != nil {
		for _, p := range pred.Programs {
			byName[p.Name] = p
		}
	}
	var out []loadResult
	progs := make([]string, 0, len(spec.Programs))
	for n := range spec.Programs {
		progs = append(progs, n)
	}
	sort.Strings(progs)
	for _, prog := range progs {
		g, ran := got[prog]
		r := loadResult{Object: o.name, Program: prog, Kernel: name, Version: version, Predicted: "n/a"}
		p, predicted := byName[prog]
		if predicted {
			c := corereport.ProgramCell{Verdict: p.Verdict, Loads: p.Loads, Load: p.Load, Attach: p.Attach}
			r.Predicted = c.Text()
			switch {
			case p.Load != corereport.Loads:
				r.Why = loadReason(p)
			case p.Attach != corereport.Loads:
				r.Why = p.AttachReason
			}
			r.Maps = mapVerdicts(p.Findings)
		}
		if ran {
			r.Loaded, r.Attached, r.Error, r.Stage, r.NotTried, r.Insns = g.Loaded, g.Attached, g.Error, g.Stage, g.NotTried, g.Insns
		}
		r.Agreement = agreement(ran, predicted, g, p)
		out = append(out, r)
	}
	return out
}

// mapVerdicts are the map findings of a program that say more than
// "created".
func mapVerdicts(fs []corereport.Finding) []string {
	var out []string
	for _, f := range fs {
		switch f.Check {
		case corereport.CheckMapType, corereport.CheckMapFlags, corereport.CheckMapBTF, corereport.CheckMapSize:
		default:
			continue
		}
		if f.Verdict != corereport.Loads || f.Detail != "" {
			out = append(out, fmt.Sprintf("%s: %s (%s)", f.Subject, f.Verdict, f.Detail))
		}
	}
	return out
}

// loadReason is why p's load is predicted to fail or unknown: the first
// load-stage finding of that verdict (Reason is the worst of both stages).
func loadReason(p corereport.Program) string {
	for _, f := range p.Findings {
		if f.Stage == corereport.StageLoad && f.Verdict == p.Load && f.Verdict != corereport.Loads {
			return f.Detail
		}
	}
	return p.Reason
}

// agreement classes one program's real outcome g against prediction p.
func agreement(ran, predicted bool, g loadRow, p corereport.Program) string {
	if !ran || !predicted {
		return agreeNoResult
	}
	if p.Load == corereport.Unknown && strings.Contains(loadReason(p), corereport.NeedsInput) ||
		p.Load == corereport.Loads && p.Attach == corereport.Unknown && strings.Contains(p.AttachReason, corereport.NeedsInput) {
		return agreeInput
	}
	if !g.Loaded && g.Stage == "loader" && p.Load != corereport.Fails {
		return agreeLoader
	}
	switch p.Load {
	case corereport.Fails:
		if g.Loaded {
			return agreeWrong
		}
		return agreeRight
	case corereport.Unknown:
		return agreeUnknown
	}
	if !g.Loaded {
		if strings.HasPrefix(g.Error, "verifier:") {
			return agreeVerifier
		}
		return agreeWrong
	}
	if g.Attached == nil {
		return agreeRight // the load was the only thing to compare
	}
	switch p.Attach {
	case corereport.Fails:
		if *g.Attached {
			return agreeWrong
		}
	case corereport.Unknown:
		return agreeUnknown
	default:
		if !*g.Attached {
			return agreeAttach
		}
	}
	return agreeRight
}

// writeLoad renders rows.
func writeLoad(w io.Writer, f format, rows []loadResult) error {
	switch f {
	case formatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	case formatMarkdown:
		var b strings.Builder
		t := report.MarkdownTable{Head: []string{"object", "program", "kernel", "loaded", "attached", "insns", "predicted", "agreement", "error"}}
		for _, r := range rows {
			ag := mdCell(r.Agreement)
			if loud(r.Agreement) {
				ag = "**" + ag + "**"
			}
			t.Add(mdCell(filepath.Base(r.Object)), mdCell(r.Program), mdCell(r.Kernel), yesNo(r.Loaded),
				attachedText(r), fmt.Sprint(r.Insns), mdCell(r.Predicted), ag, mdCell(r.Error))
		}
		t.Write(&b)
		writeLoadSummary(&b, rows, true)
		_, err := io.WriteString(w, b.String())
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tPROGRAM\tKERNEL\tLOADED\tATTACHED\tINSNS\tPREDICTED\tAGREEMENT\tERROR")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", filepath.Base(r.Object), r.Program, r.Kernel, yesNo(r.Loaded), attachedText(r), r.Insns, r.Predicted, r.Agreement, oneLine(r.Error))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	writeLoadSummary(&b, rows, false)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeLoadSummary counts the agreement classes per kernel and spells out
// every disagreement with the prediction's reason, one line each. As
// markdown the lines are list items (not one paragraph) and every name and
// text from an object or a kernel is escaped (report.EscapeMarkdown).
func writeLoadSummary(b *strings.Builder, rows []loadResult, markdown bool) {
	esc, item := oneLine, ""
	if markdown {
		esc, item = mdCell, "- "
	}
	type counts map[string]int
	per := map[string]counts{}
	var order []string
	for _, r := range rows {
		if per[r.Kernel] == nil {
			per[r.Kernel] = counts{}
			order = append(order, r.Kernel)
		}
		per[r.Kernel][r.Agreement]++
	}
	b.WriteString("\n")
	for _, k := range order {
		c := per[k]
		fmt.Fprintf(b, "%s%s: %d right, %d WRONG, %d unknown, %d verifier-only, %d attach-only; %d need run-time input, %d refused by the loader, %d no result\n",
			item, esc(k), c[agreeRight], c[agreeWrong], c[agreeUnknown], c[agreeVerifier], c[agreeAttach], c[agreeInput], c[agreeLoader], c[agreeNoResult])
	}
	for _, r := range rows {
		if loud(r.Agreement) {
			fmt.Fprintf(b, "%sDISAGREE %s %s on %s (%s): predicted %s (%s); kernel: loaded=%s attached=%s %s%s\n",
				item, esc(filepath.Base(r.Object)), esc(r.Program), esc(r.Kernel), esc(r.Agreement), esc(strconv.Quote(r.Predicted)), esc(r.Why), yesNo(r.Loaded), attachedText(r), stageText(r.Stage), esc(r.Error))
		}
	}
}

// stageText names a failure's stage for the disagreement lines: a map the
// kernel refused to create is attributed to the map.
func stageText(stage string) string {
	if stage == "map" {
		return "(map creation) "
	}
	return ""
}

func loud(agreement string) bool {
	return agreement == agreeWrong || agreement == agreeVerifier || agreement == agreeAttach
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func attachedText(r loadResult) string {
	switch {
	case r.Attached == nil && r.NotTried != "":
		return "not tried"
	case r.Attached == nil:
		return "-"
	}
	return yesNo(*r.Attached)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// mdCell makes text one table cell (report.EscapeMarkdown).
func mdCell(s string) string { return report.EscapeMarkdown(oneLine(s)) }
