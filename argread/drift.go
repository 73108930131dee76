package argread

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
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
	// Running: the read is reachable and the position exists; Type is read.
	Running State = "reads"
	// Dead: a CO-RE check on this kernel makes the read dead code.
	Dead State = "dead"
	// NoTarget: the traced function is not in the kernel's BTF (absent, or
	// inlined everywhere): what the read gets is unknown.
	NoTarget State = "no target"
	// NoParam: the read is reachable but the function has fewer parameters
	// there: it reads a register holding no argument.
	NoParam State = "no param"
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
}

// Verdict classifies one read across kernels.
type Verdict string

// Verdicts of a Finding.
const (
	// Stable: the same type on every kernel where the read runs.
	Stable Verdict = "stable"
	// Guarded: the read runs on some kernels only, as a CO-RE check decides,
	// and the program reads the same types on every kernel. Not drift.
	Guarded Verdict = "guarded"
	// Drift: the type read differs between kernels.
	Drift Verdict = "drift"
	// Unknown: some kernel has no prototype for the target.
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

// Check finds every argument read of spec's kprobe, kretprobe, fentry and
// fexit programs (Reads) and compares, on each kernel, the target's
// parameter at that position. A read that CO-RE relocation makes dead code
// on a kernel (the object picks the argument by kernel) does not count
// there. Findings are in Reads order.
func Check(spec *ebpf.CollectionSpec, kernels []KernelBTF) ([]Finding, error) {
	reads, err := Reads(spec)
	if err != nil {
		return nil, err
	}
	type key struct{ name, kernel string }
	protos := map[key]*btfproto.Proto{}
	live := map[key][]bool{}
	for _, r := range reads {
		for _, k := range kernels {
			pk := key{r.Target, k.Name}
			if _, done := protos[pk]; !done {
				p, err := btfproto.Lookup(k.BTF, r.Target)
				switch {
				case err == nil:
					protos[pk] = &p
				case errors.Is(err, btfproto.ErrNotFound):
					protos[pk] = nil
				default:
					return nil, fmt.Errorf("kernel %s: %w", k.Name, err)
				}
			}
			lk := key{r.Program, k.Name}
			if _, done := live[lk]; !done {
				l, err := reachable(spec.Programs[r.Program].Instructions, spec.Types, k.BTF)
				if err != nil {
					return nil, fmt.Errorf("program %s on kernel %s: %w", r.Program, k.Name, err)
				}
				live[lk] = l
			}
		}
	}

	findings := make([]Finding, len(reads))
	for i, r := range reads {
		f := Finding{Read: r}
		for _, k := range kernels {
			c := Cell{Kernel: k.Name}
			p := protos[key{r.Target, k.Name}]
			switch {
			case p == nil:
				c.State = NoTarget
			case !live[key{r.Program, k.Name}][r.Insn]:
				c.State, c.Proto = Dead, p.String()
			default:
				c.Proto = p.String()
				label, typ, ok := r.At(*p)
				c.Label = label
				if ok {
					c.State, c.Type = Running, typ
				} else {
					c.State = NoParam
				}
			}
			f.Cells = append(f.Cells, c)
		}
		findings[i] = f
	}
	for i := range findings {
		judge(&findings[i], findings)
	}
	return findings, nil
}

// judge sets f's verdict; all holds every finding, for the program-level
// comparison of guarded reads.
func judge(f *Finding, all []Finding) {
	var types []string // distinct "label type" among running cells
	dead, noTarget := false, false
	for _, c := range f.Cells {
		switch c.State {
		case Running, NoParam:
			if v := cellValue(c); !slices.Contains(types, v) {
				types = append(types, v)
			}
		case Dead:
			dead = true
		case NoTarget:
			noTarget = true
		}
	}
	switch {
	case len(types) > 1:
		f.Verdict, f.Detail = Drift, describe(f.Cells)
	case len(types) == 1 && strings.HasSuffix(types[0], "(no such parameter)"):
		f.Verdict = Unknown
		f.Detail = fmt.Sprintf("reads %s, but %s has fewer parameters on every kernel: the register holds no argument", f.Label(), f.Target)
	case noTarget:
		f.Verdict = Unknown
		var missing []string
		for _, c := range f.Cells {
			if c.State == NoTarget {
				missing = append(missing, c.Kernel)
			}
		}
		f.Detail = fmt.Sprintf("%s not in the BTF of %s (absent or inlined)", f.Target, strings.Join(missing, ", "))
	case dead:
		// A guarded read is right only if the program as a whole reads the
		// same types on every kernel: the guard picked the right argument.
		if d := programDrift(f.Program, all); d != "" {
			f.Verdict, f.Detail = Drift, "the kernel-guarded choice reads "+d
		} else {
			f.Verdict = Guarded
		}
	default:
		f.Verdict = Stable
	}
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

// reachable returns, per instruction of insns, whether the verifier can reach it
// on kernel: CO-RE existence checks become constants, and the side they
// rule out is dead (corerelo.Relocate). A relocation that cannot be
// computed leaves the instructions as they were, so both sides stay live.
func reachable(insns asm.Instructions, local, kernel *btf.Spec) ([]bool, error) {
	p, err := corerelo.Relocate(insns, local, kernel, binary.LittleEndian)
	if err != nil && !errors.Is(err, corerelo.ErrRelocation) {
		return nil, err
	}
	return p.Live, nil
}
