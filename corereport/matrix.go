package corereport

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/corematrix/corematrix/corerelo"
	"github.com/corematrix/corematrix/kernel"
)

// Column is one column of a Matrix: a kernel and its relocation result, or
// why there is none. Its JSON form is the kernel's with "error" added.
type Column struct {
	kernel.Kernel
	// Result is the object relocated against this kernel; nil when Err is set.
	Result *Result `json:"-"`
	// Err says why the kernel has no result (not resolved, no BTF).
	Err string `json:"error,omitempty"`
}

// Matrix is the relocation matrix of one object: every relocation of every
// program against every kernel, and the predicted load outcome of each
// program on each kernel.
type Matrix struct {
	Object  string   `json:"object"`
	Kernels []Column `json:"kernels"`
	// Relocations has one row per program and distinct (kind, access),
	// in program then instruction order.
	Relocations []Row `json:"relocations"`
	// Findings has one row per program and distinct (check, subject) of
	// the checks beyond CO-RE (helpers, kfuncs, types, attach targets), in
	// program then check order.
	Findings []FindingRow `json:"findings"`
	// Programs has one row per program, sorted by name.
	Programs []ProgramRow `json:"programs"`
	// Args is the argument check (see CheckArgs); nil when not run.
	Args *Args `json:"args,omitempty"`
}

// FindingRow is one check of one program across the kernels.
type FindingRow struct {
	Program string `json:"program"`
	Check   Check  `json:"check"`
	Subject string `json:"subject"`
	// Cells has one entry per kernel, in Matrix.Kernels order.
	Cells []FindingCell `json:"cells"`
}

// FindingCell is one check on one kernel.
type FindingCell struct {
	Verdict Verdict `json:"verdict,omitempty"`
	Detail  string  `json:"detail,omitempty"`
	// NA: the kernel has no result, or the program does not need the check
	// there (e.g. a helper only called in code dead on that kernel).
	NA bool `json:"na,omitempty"`
}

// Text is the cell as the table shows it: "ok", "ok*" (ok thanks to a
// fallback or dead code, see Detail), "ABSENT", "unknown" or "-".
func (c FindingCell) Text() string {
	if c.NA {
		return "-"
	}
	return Finding{Verdict: c.Verdict, Detail: c.Detail}.Text()
}

// plain reports whether every cell of r is a plain "ok" or "-": nothing to
// look at.
func (r FindingRow) plain() bool {
	for _, c := range r.Cells {
		if !c.NA && (c.Verdict != Loads || c.Detail != "") {
			return false
		}
	}
	return true
}

// Row is one relocation of one program across the kernels.
type Row struct {
	Program string        `json:"program"`
	Kind    corerelo.Kind `json:"kind"`
	Access  string        `json:"access"`
	// Cells has one entry per kernel, in Matrix.Kernels order.
	Cells []Cell `json:"cells"`
}

// Cell is one relocation on one kernel.
type Cell struct {
	// Values are the distinct relocated values, when the relocation occurs
	// more than once in the program (normally one). Empty when poisoned.
	Values []int64 `json:"values,omitempty"`
	// Poisoned: the kernel has no target for the relocation.
	Poisoned bool `json:"poisoned,omitempty"`
	// Unguarded: poisoned and reachable, so the program fails to load.
	Unguarded bool `json:"unguarded,omitempty"`
	// NA: the kernel has no result (see Kernel.Err), or the program could
	// not be relocated on it at all (see its ProgramCell.Reason).
	NA bool `json:"na,omitempty"`
}

// ProgramRow is the predicted load outcome of one program across the kernels.
type ProgramRow struct {
	Name  string        `json:"name"`
	Cells []ProgramCell `json:"cells"`
}

// ProgramCell is the prediction for one program on one kernel.
type ProgramCell struct {
	Verdict Verdict `json:"verdict,omitempty"`
	// Loads is false when the program is predicted to fail.
	Loads bool `json:"loads"`
	// Reason says why it fails, or why the prediction is unknown.
	Reason string `json:"reason,omitempty"`
	// Load and Attach are the verdicts of each stage (see Program).
	Load   Verdict `json:"load,omitempty"`
	Attach Verdict `json:"attach,omitempty"`
	NA     bool    `json:"na,omitempty"`
}

// MarshalJSON adds the cell's Text to its fields, so JSON readers need not
// re-derive it.
func (c Cell) MarshalJSON() ([]byte, error) {
	type plain Cell
	return json.Marshal(struct {
		plain
		Text string `json:"text"`
	}{plain(c), c.Text()})
}

// MarshalJSON adds the cell's Text to its fields.
func (c ProgramCell) MarshalJSON() ([]byte, error) {
	type plain ProgramCell
	return json.Marshal(struct {
		plain
		Text string `json:"text"`
	}{plain(c), c.Text()})
}

// Text is the cell as the table shows it: the value ("24", "1", "0"),
// "POISONED" when the load fails on it, "poison (dead)" when poisoned but
// guarded, "n/a" without a result.
func (c Cell) Text() string {
	switch {
	case c.NA:
		return "n/a"
	case c.Unguarded:
		return "POISONED"
	case c.Poisoned:
		return "poison (dead)"
	}
	vs := make([]string, len(c.Values))
	for i, v := range c.Values {
		vs[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(vs, "|")
}

// Text is the cell as the table shows it, load and attach apart: "FAILS"
// (the load), "unknown" (the load), "loads; attach FAILS", "loads; attach
// unknown", "loads" or "n/a". "loads" says nothing the kernel's BTF, config
// and kallsyms show stops the program; the verifier's acceptance is not
// predicted.
func (c ProgramCell) Text() string {
	switch {
	case c.NA:
		return "n/a"
	case c.Load == "" && !c.Loads:
		return "FAILS"
	case c.Load == "" && c.Verdict == Unknown:
		return "unknown"
	case c.Load == Fails:
		return "FAILS"
	case c.Load == Unknown:
		return "unknown"
	case c.Attach == Fails:
		return "loads; attach FAILS"
	case c.Attach == Unknown:
		return "loads; attach unknown"
	}
	return "loads"
}

// Failures counts the predicted load failures in m.
func (m *Matrix) Failures() int {
	n := 0
	for _, p := range m.Programs {
		for _, c := range p.Cells {
			if !c.NA && !c.Loads {
				n++
			}
		}
	}
	return n
}

// Unknowns counts the program cells whose outcome BTF does not settle.
func (m *Matrix) Unknowns() int {
	n := 0
	for _, p := range m.Programs {
		for _, c := range p.Cells {
			if !c.NA && c.Loads && c.Verdict == Unknown {
				n++
			}
		}
	}
	return n
}

// Unavailable counts the kernels without a result.
func (m *Matrix) Unavailable() int {
	n := 0
	for _, k := range m.Kernels {
		if k.Result == nil {
			n++
		}
	}
	return n
}

// NewMatrix builds the matrix of object from one Kernel per column.
func NewMatrix(object string, kernels []Column) *Matrix {
	m := &Matrix{Object: object, Kernels: kernels, Relocations: []Row{}, Findings: []FindingRow{}, Programs: []ProgramRow{}}
	type rowKey struct {
		prog   string
		kind   corerelo.Kind
		access string
	}
	type findingKey struct {
		prog    string
		check   Check
		subject string
	}
	rowAt := map[rowKey]int{}
	progAt := map[string]int{}
	findingAt := map[findingKey]int{}

	// Rows come from every kernel's result, so a program that cannot be
	// relocated on one kernel still gets its rows from the others.
	for _, k := range kernels {
		if k.Result == nil {
			continue
		}
		for _, p := range k.Result.Programs {
			if _, ok := progAt[p.Name]; !ok {
				progAt[p.Name] = len(m.Programs)
				m.Programs = append(m.Programs, ProgramRow{Name: p.Name, Cells: naProgramCells(len(kernels))})
			}
			for _, f := range p.Fixups {
				key := rowKey{p.Name, f.Kind, f.Access}
				if _, ok := rowAt[key]; !ok {
					rowAt[key] = len(m.Relocations)
					m.Relocations = append(m.Relocations, Row{Program: p.Name, Kind: f.Kind, Access: f.Access, Cells: naCells(len(kernels))})
				}
			}
			for _, f := range p.Findings {
				key := findingKey{p.Name, f.Check, f.Subject}
				if _, ok := findingAt[key]; !ok && f.Check != CheckCORE {
					findingAt[key] = len(m.Findings)
					cells := make([]FindingCell, len(kernels))
					for i := range cells {
						cells[i].NA = true
					}
					m.Findings = append(m.Findings, FindingRow{Program: p.Name, Check: f.Check, Subject: f.Subject, Cells: cells})
				}
			}
		}
	}
	for col, k := range kernels {
		if k.Result == nil {
			continue
		}
		for _, p := range k.Result.Programs {
			m.Programs[progAt[p.Name]].Cells[col] = ProgramCell{Verdict: p.Verdict, Loads: p.Loads, Reason: p.Reason, Load: p.Load, Attach: p.Attach}
			for _, f := range p.Findings {
				if i, ok := findingAt[findingKey{p.Name, f.Check, f.Subject}]; ok {
					m.Findings[i].Cells[col] = FindingCell{Verdict: f.Verdict, Detail: f.Detail}
				}
			}
			seen := map[rowKey]bool{}
			for _, f := range p.Fixups {
				key := rowKey{p.Name, f.Kind, f.Access}
				c := &m.Relocations[rowAt[key]].Cells[col]
				if !seen[key] {
					*c = Cell{}
					seen[key] = true
				}
				if f.Unresolved {
					c.NA = true
					continue
				}
				c.Poisoned = c.Poisoned || f.Poisoned
				c.Unguarded = c.Unguarded || f.Unguarded
				if !f.Poisoned && !containsValue(c.Values, f.Value) {
					c.Values = append(c.Values, f.Value)
				}
			}
		}
	}
	return m
}

func naCells(n int) []Cell {
	cs := make([]Cell, n)
	for i := range cs {
		cs[i].NA = true
	}
	return cs
}

func naProgramCells(n int) []ProgramCell {
	cs := make([]ProgramCell, n)
	for i := range cs {
		cs[i].NA = true
	}
	return cs
}

func containsValue(vs []int64, v int64) bool {
	return slices.Contains(vs, v)
}

// kernelLabel is the column heading of k: its name, and its version when
// that says more.
func kernelLabel(k Column) string {
	if k.Version != "" && k.Version != k.Name && !strings.Contains(k.Name, k.Version) {
		return fmt.Sprintf("%s (%s)", k.Name, k.Version)
	}
	return k.Name
}
