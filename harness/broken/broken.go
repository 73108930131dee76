// Package broken holds deliberately broken builds of the corematrix tracer,
// used to show that the compatibility suite catches a real portability bug.
// Each is probes/bpf/tracer.c with one bpf_core_field_exists() guard removed
// (see gen.sh), so the object reads a renamed kernel field unconditionally,
// the mistake the tutorial the probes are modeled on makes:
//
//	state  reads task_struct.state without a guard: fails to load on 5.14+
//	start  reads task_struct.real_start_time without a guard: fails on 5.5+
//
// On a kernel that lacks the field, the loader poisons the relocation and the
// verifier rejects the program ("bad CO-RE relocation"); where the field
// exists, the object loads and works.
package broken

import (
	_ "embed" // the objects
	"fmt"
	"sort"
)

//go:generate ./gen.sh

//go:embed broken_state.o
var stateObject []byte

//go:embed broken_start.o
var startObject []byte

// Variant is one broken build.
type Variant struct {
	// Name is "state" or "start".
	Name string
	// Program is the program with the unguarded read.
	Program string
	// Field is the old field read without a guard.
	Field string
	// Major and Minor are the first kernel without Field: the object must
	// fail to load there and after, and load before.
	Major, Minor int
	// Object is the compiled ELF object. Do not modify it.
	Object []byte
}

var variants = map[string]Variant{
	"state": {"state", "sched_switch", "task_struct.state", 5, 14, stateObject},
	"start": {"start", "trace_exec", "task_struct.real_start_time", 5, 5, startObject},
}

// Variants returns every broken build, by name.
func Variants() []Variant {
	out := make([]Variant, 0, len(variants))
	for _, v := range variants {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the broken build called name.
func Lookup(name string) (Variant, error) {
	v, ok := variants[name]
	if !ok {
		return Variant{}, fmt.Errorf("no broken tracer variant %q (want state or start)", name)
	}
	return v, nil
}
