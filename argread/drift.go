package argread

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/btfproto"
	"github.com/corematrix/corematrix/corerelo"
	"github.com/corematrix/corematrix/kernel"
)

// KernelBTF is one kernel of a drift check: the kernel (its Name labels it
// in findings) and its vmlinux BTF.
type KernelBTF struct {
	kernel.Kernel
	BTF *btf.Spec
}

// State says what a read does on one kernel.
type State string

// States of a Cell.
const (
	// Running: the read's value reaches a use and the position exists;
	// Type is read.
	Running State = "reads"
	// Dead: dead on this kernel. After CO-RE relocation for the kernel the
	// read is unreachable, or its value reaches no use (Why says which).
	Dead State = "dead on this kernel"
	// NoTarget: the traced function is not in the kernel's BTF (absent, or
	// inlined everywhere): what the read gets is unknown.
	NoTarget State = "no target"
	// NoParam: the read is used but the function has fewer parameters
	// there: it reads a register holding no argument.
	NoParam State = "no param"
	// Lost: the analysis cannot follow this use of the context on this
	// kernel (Why says why).
	Lost State = "unknown"
)

// Cell is one read on one kernel.
type Cell struct {
	Kernel string `json:"kernel"`
	State  State  `json:"state"`
	// Label is what the read gets there ("arg 3", "return"); for fexit the
	// slot may be the return value on one kernel and an argument on another.
	Label string `json:"label,omitempty"`
	// Type is the C type read (State Running only).
	Type string `json:"type,omitempty"`
	// Proto is the target's prototype on this kernel, "" when NoTarget.
	Proto string `json:"proto,omitempty"`
	// Why details a Dead cell ("unreachable", "value unused") or a Lost one.
	Why string `json:"why,omitempty"`
}

// Verdict classifies one read across kernels.
type Verdict string

// Verdicts of a Finding.
const (
	// Stable: the same type on every kernel where the read's value is used.
	Stable Verdict = "stable"
	// Selected: a CO-RE check makes the read live on some kernels and dead
	// on the others, and the program reads the same types on every kernel:
	// the object picks the argument by kernel. Not drift.
	Selected Verdict = "selected by CO-RE check (not drift)"
	// DeadEverywhere: the read's value reaches no use on any kernel.
	DeadEverywhere Verdict = "dead on every kernel"
	// Drift: the type read differs between kernels.
	Drift Verdict = "DRIFT"
	// Unknown: the analysis cannot follow the read, or some kernel where it
	// is live has no prototype for the target; Detail says why.
	Unknown Verdict = "unknown"
)

// Finding is one argument read checked across kernels.
type Finding struct {
	Read
	Verdict Verdict `json:"verdict"`
	Cells   []Cell  `json:"cells"`
	// Detail explains a drift or unknown verdict in one line, e.g.
	// "struct dentry * (arg 2) on 5.10; struct inode * (arg 2) on 6.1, 6.12".
	Detail string `json:"detail,omitempty"`
}

// Result is the drift check of one object.
type Result struct {
	Findings []Finding
	// ContextOnly names the traced programs that use their context only as
	// a helper's context (bpf_perf_event_output, bpf_get_stackid): they
	// read no argument.
	ContextOnly []string
}

// Check interprets every kprobe, kretprobe, fentry and fexit program of
// spec relocated for each kernel (see the package doc) and compares, on
// each kernel, the target's parameter at the position of each read whose
// value reaches a use there. Findings are sorted by program, position and
// instruction.
func Check(spec *ebpf.CollectionSpec, kernels []KernelBTF) (*Result, error) {
	res := &Result{}
	protos := map[[2]string]*btfproto.Proto{}
	proto := func(target string, k KernelBTF) (*btfproto.Proto, error) {
		pk := [2]string{target, k.Name}
		if p, done := protos[pk]; done {
			return p, nil
		}
		p, err := btfproto.Lookup(k.BTF, target)
		switch {
		case err == nil:
			protos[pk] = &p
		case errors.Is(err, btfproto.ErrNotFound):
			protos[pk] = nil
		default:
			return nil, fmt.Errorf("kernel %s: %w", k.Name, err)
		}
		return protos[pk], nil
	}
	var findings []Finding
	for _, name := range sortedKeys(spec.Programs) {
		p := spec.Programs[name]
		attach, target, ok := Traced(p)
		if !ok {
			continue
		}
		fs, touched, err := checkProgram(p, attach, target, spec, kernels, proto)
		if err != nil {
			return nil, fmt.Errorf("program %s: %w", name, err)
		}
		if len(fs) == 0 && touched {
			res.ContextOnly = append(res.ContextOnly, name)
		}
		findings = append(findings, fs...)
	}
	sort.SliceStable(findings, func(i, j int) bool {
		a, b := findings[i], findings[j]
		if a.Program != b.Program {
			return a.Program < b.Program
		}
		if a.Position != b.Position {
			return a.Position < b.Position
		}
		return a.Insn < b.Insn
	})
	for i := range findings {
		judge(&findings[i], findings)
	}
	res.Findings = findings
	return res, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// perKernel is the analysis of one program on one kernel.
type perKernel struct {
	a *analysis
	// lost says why every read is unknown on this kernel ("" when not).
	lost string
}

// checkProgram analyses one traced program on every kernel and returns a
// finding per read (and per use the analysis cannot follow), unjudged,
// and whether the program touches its context at all.
func checkProgram(p *ebpf.ProgramSpec, attach, target string, spec *ebpf.CollectionSpec, kernels []KernelBTF,
	proto func(string, KernelBTF) (*btfproto.Proto, error)) ([]Finding, bool, error) {
	tracing := attach == Fentry || attach == Fexit
	runs := make([]perKernel, len(kernels))
	touched := false
	var reads readSet
	for ki, k := range kernels {
		run, err := analyseOn(p, spec, tracing, k)
		if err != nil {
			return nil, false, err
		}
		touched = touched || run.a.touched
		runs[ki] = run
		reads.add(run.a, p.Name, attach, target)
	}
	var out []Finding
	for _, key := range reads.order {
		f := Finding{Read: reads.reads[key]}
		for ki, k := range kernels {
			c, err := cellOf(&f, key, runs[ki], k, target, proto)
			if err != nil {
				return nil, false, err
			}
			f.Cells = append(f.Cells, c)
		}
		out = append(out, f)
	}
	return out, touched, nil
}

// analyseOn relocates p for kernel k and runs the analysis of its
// instructions; a program that does not relocate there is analysed as
// compiled, every read of it lost.
func analyseOn(p *ebpf.ProgramSpec, spec *ebpf.CollectionSpec, tracing bool, k KernelBTF) (perKernel, error) {
	insns := p.Instructions
	lost := ""
	rp, err := corerelo.Relocate(p.Instructions, spec.Types, k.BTF, binary.LittleEndian)
	switch {
	case err == nil:
		insns = rp.Insns
	case errors.Is(err, corerelo.ErrRelocation):
		lost = "the program does not load there: " + err.Error()
	default:
		return perKernel{}, fmt.Errorf("kernel %s: %w", k.Name, err)
	}
	a, err := newAnalysis(insns, spec.Types, tracing, spec.Maps)
	if err != nil {
		return perKernel{}, err
	}
	a.run()
	return perKernel{a: a, lost: lost}, nil
}

// readKey is one read of a program: a site (insn, off) or a use the
// analysis cannot follow (off -1, why).
type readKey struct {
	insn int
	off  int64
	why  string
}

// readSet is every read of a program over the kernels, in the order first
// seen.
type readSet struct {
	order []readKey
	reads map[readKey]Read
}

// add adds the reads and problems of analysis a not seen yet.
func (rs *readSet) add(a *analysis, prog, attach, target string) {
	if rs.reads == nil {
		rs.reads = map[readKey]Read{}
	}
	for _, s := range a.sites {
		rs.addRead(readKey{insn: s.insn, off: s.off}, func() Read { return a.readOf(prog, attach, target, s) })
	}
	for _, pr := range a.problems {
		rs.addRead(readKey{insn: pr.insn, off: -1, why: pr.why}, func() Read { return unknownRead(prog, attach, target, pr) })
	}
}

func (rs *readSet) addRead(key readKey, read func() Read) {
	if _, ok := rs.reads[key]; !ok {
		rs.reads[key] = read()
		rs.order = append(rs.order, key)
	}
}

// cellOf returns what read key of finding f is on kernel k, whose analysis
// is run.
func cellOf(f *Finding, key readKey, run perKernel, k KernelBTF, target string,
	proto func(string, KernelBTF) (*btfproto.Proto, error)) (Cell, error) {
	c := Cell{Kernel: k.Name}
	switch {
	case run.lost != "":
		c.State, c.Why = Lost, run.lost
	case key.why != "":
		if slices.ContainsFunc(run.a.problems, func(pr problem) bool { return pr.insn == key.insn && pr.why == key.why }) {
			c.State, c.Why = Lost, key.why
		} else {
			c.State, c.Why = Dead, "unreachable"
		}
	default:
		if err := siteCell(&c, f, key, run, k, target, proto); err != nil {
			return c, err
		}
	}
	if c.State == Dead && c.Proto == "" {
		if pr, err := proto(target, k); err == nil && pr != nil {
			c.Proto = pr.String()
		}
	}
	return c, nil
}

// siteCell fills in c for the site read key: dead when unreachable or its
// value unused, else where the kernel's prototype puts it.
func siteCell(c *Cell, f *Finding, key readKey, run perKernel, k KernelBTF, target string,
	proto func(string, KernelBTF) (*btfproto.Proto, error)) error {
	idx, found := run.a.siteIdx[[2]int64{int64(key.insn), key.off}]
	switch {
	case !found:
		c.State, c.Why = Dead, "unreachable"
		return nil
	case !run.a.used[idx]:
		c.State, c.Why = Dead, "value unused"
		return nil
	}
	pr, err := proto(target, k)
	if err != nil {
		return err
	}
	if pr == nil {
		c.State = NoTarget
		return nil
	}
	c.Proto = pr.String()
	label, typ, ok := f.At(*pr)
	c.Label = label
	if ok {
		c.State, c.Type = Running, typ
	} else {
		c.State = NoParam
	}
	return nil
}

// judge sets f's verdict; all holds every finding, for the program-level
// comparison of reads a CO-RE check selects.
func judge(f *Finding, all []Finding) {
	var types []string // distinct "type (label)" among used cells
	var lost, missing []string
	dead, live := false, false
	for _, c := range f.Cells {
		switch c.State {
		case Running, NoParam:
			live = true
			if v := cellValue(c); !slices.Contains(types, v) {
				types = append(types, v)
			}
		case Dead:
			dead = true
		case NoTarget:
			live = true
			missing = append(missing, c.Kernel)
		case Lost:
			lost = append(lost, c.Kernel)
		}
	}
	switch {
	case f.Unknown != "" && len(lost) > 0:
		f.Verdict, f.Detail = Unknown, f.Unknown+" (on "+strings.Join(lost, ", ")+")"
	case f.Unknown != "":
		// The use the analysis cannot follow is unreachable on every kernel.
		f.Verdict = DeadEverywhere
	case len(lost) > 0:
		f.Verdict = Unknown
		f.Detail = lostDetail(f.Cells)
	case len(types) > 1:
		f.Verdict, f.Detail = Drift, describe(f.Cells)
	case len(types) == 1 && strings.HasSuffix(types[0], "(no such parameter)"):
		f.Verdict = Unknown
		f.Detail = fmt.Sprintf("reads %s, but %s has fewer parameters on every kernel: the register holds no argument", f.Label(), f.Target)
	case len(missing) > 0:
		f.Verdict = Unknown
		f.Detail = fmt.Sprintf("%s not in the BTF of %s (absent or inlined)", f.Target, strings.Join(missing, ", "))
	case !live:
		f.Verdict = DeadEverywhere
	case dead:
		// A selected read is right only if the program as a whole reads the
		// same types on every kernel: the check picked the right argument.
		if d := programDrift(f.Program, all); d != "" {
			f.Verdict, f.Detail = Drift, "the CO-RE-selected reads give "+d
		} else {
			f.Verdict = Selected
		}
	default:
		f.Verdict = Stable
	}
}

// lostDetail says on which kernels, and why, the analysis lost the read.
func lostDetail(cells []Cell) string {
	var order []string
	by := map[string][]string{}
	for _, c := range cells {
		if c.State != Lost {
			continue
		}
		if _, ok := by[c.Why]; !ok {
			order = append(order, c.Why)
		}
		by[c.Why] = append(by[c.Why], c.Kernel)
	}
	parts := make([]string, len(order))
	for i, w := range order {
		parts[i] = w + " (on " + strings.Join(by[w], ", ") + ")"
	}
	return strings.Join(parts, "; ")
}

// cellValue is what a running read gets: "struct dentry * (arg 2)", or
// "arg 4 (no such parameter)".
func cellValue(c Cell) string {
	if c.State == NoParam {
		return c.Label + " (no such parameter)"
	}
	return c.Type + " (" + c.Label + ")"
}

// describe renders which kernels read which type.
func describe(cells []Cell) string {
	var order []string
	byValue := map[string][]string{}
	for _, c := range cells {
		if c.State != Running && c.State != NoParam {
			continue
		}
		v := cellValue(c)
		if _, ok := byValue[v]; !ok {
			order = append(order, v)
		}
		byValue[v] = append(byValue[v], c.Kernel)
	}
	parts := make([]string, len(order))
	for i, v := range order {
		parts[i] = v + " on " + strings.Join(byValue[v], ", ")
	}
	return strings.Join(parts, "; ")
}

// programDrift compares, per kernel, the sorted types every running read of
// program gets, and describes the difference ("" when every kernel with the
// target reads the same).
func programDrift(program string, all []Finding) string {
	perKernel := map[string][]string{}
	var kernels []string
	for _, f := range all {
		if f.Program != program {
			continue
		}
		for _, c := range f.Cells {
			if !slices.Contains(kernels, c.Kernel) {
				kernels = append(kernels, c.Kernel)
			}
			switch c.State {
			case Running:
				perKernel[c.Kernel] = append(perKernel[c.Kernel], c.Type)
			case NoParam:
				perKernel[c.Kernel] = append(perKernel[c.Kernel], cellValue(c))
			}
		}
	}
	var order []string
	byValue := map[string][]string{}
	for _, k := range kernels {
		ts := perKernel[k]
		sort.Strings(ts)
		v := strings.Join(ts, " + ")
		if v == "" {
			continue // no target there, or nothing runs
		}
		if _, ok := byValue[v]; !ok {
			order = append(order, v)
		}
		byValue[v] = append(byValue[v], k)
	}
	if len(order) < 2 {
		return ""
	}
	parts := make([]string, len(order))
	for i, v := range order {
		parts[i] = v + " on " + strings.Join(byValue[v], ", ")
	}
	return strings.Join(parts, "; ")
}
