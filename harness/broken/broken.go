package broken

import (
	_ "embed" // the objects
	"fmt"
	"runtime"
	"sort"
	"strings"
)

//go:generate ./gen.sh

//go:embed broken_state.o
var stateObject []byte

//go:embed broken_start.o
var startObject []byte

//go:embed broken_state_arm64.o
var stateObjectARM64 []byte

//go:embed broken_start_arm64.o
var startObjectARM64 []byte

//go:embed broken_task_btf_arm64.o
var taskBTFObjectARM64 []byte

//go:embed broken_loop_arm64.o
var loopObjectARM64 []byte

//go:embed broken_kern_ctx_arm64.o
var kernCtxObjectARM64 []byte

//go:embed broken_kprobe_target_arm64.o
var kprobeTargetObjectARM64 []byte

//go:embed broken_fentry.o
var fentryObject []byte

//go:embed broken_fentry_arm64.o
var fentryObjectARM64 []byte

// Kind says what a variant breaks.
type Kind string

const (
	// Field: an unguarded read of a field kernels from Major.Minor on lack.
	Field Kind = "field"
	// Helper: a BPF helper kernels before Major.Minor lack.
	Helper Kind = "helper"
	// Kfunc: a kfunc kernels before Major.Minor lack.
	Kfunc Kind = "kfunc"
	// KprobeTarget: a kprobe on a function kernels before Major.Minor lack.
	KprobeTarget Kind = "kprobe_target"
	// Trampoline: an fentry program, which needs BPF trampolines: kernels
	// of the architecture before Major.Minor lack them.
	Trampoline Kind = "trampoline"
)

// Stage is where a broken program fails.
type Stage string

const (
	// Load: the program is rejected when loaded.
	Load Stage = "load"
	// Attach: the program loads but cannot be attached.
	Attach Stage = "attach"
)

// Variant is one broken build.
type Variant struct {
	// Name is the variant's name, e.g. "state" or "loop".
	Name string
	// Program is the program with the edit.
	Program string
	// Kind is what the variant breaks.
	Kind Kind
	// Uses names the field, helper, kfunc or function the variant needs,
	// e.g. "task_struct.state" or "bpf_loop".
	Uses string
	// Major and Minor bound the kernels that fail: for Field, the first
	// kernel without the field (it fails from there on); for the other
	// kinds, the first kernel with Uses (it fails before).
	Major, Minor int
	// Stage is where the program fails on such a kernel.
	Stage Stage
	// Object is the compiled ELF object. Do not modify it.
	Object []byte
}

// FailsOn reports whether the variant's program must fail on a kernel of
// the given version (a kernel that is at least major.minor when atLeast is
// atLeast(v.Major, v.Minor)).
func (v Variant) FailsOn(atLeast func(major, minor int) bool) bool {
	newer := atLeast(v.Major, v.Minor)
	if v.Kind == Field {
		return newer
	}
	return !newer
}

//go:embed broken_task_btf.o
var taskBTFObject []byte

//go:embed broken_loop.o
var loopObject []byte

//go:embed broken_kern_ctx.o
var kernCtxObject []byte

//go:embed broken_kprobe_target.o
var kprobeTargetObject []byte

// variants holds the builds of each architecture ("amd64", "arm64").
var variants = map[string]map[string]Variant{
	"amd64": {
		"state":         {"state", "sched_switch", Field, "task_struct.state", 5, 14, Load, stateObject},
		"start":         {"start", "trace_exec", Field, "task_struct.real_start_time", 5, 5, Load, startObject},
		"task_btf":      {"task_btf", "trace_exec", Helper, "bpf_get_current_task_btf", 5, 11, Load, taskBTFObject},
		"loop":          {"loop", "trace_exec", Helper, "bpf_loop", 5, 17, Load, loopObject},
		"kern_ctx":      {"kern_ctx", "trace_exit", Kfunc, "bpf_cast_to_kern_ctx", 6, 2, Load, kernCtxObject},
		"kprobe_target": {"kprobe_target", "trace_open", KprobeTarget, "__x64_sys_epoll_pwait2", 5, 11, Attach, kprobeTargetObject},
		"fentry":        {"fentry", "trace_exit", Trampoline, "fentry do_exit", 5, 5, Attach, fentryObject},
	},
	"arm64": {
		"state":         {"state", "sched_switch", Field, "task_struct.state", 5, 14, Load, stateObjectARM64},
		"start":         {"start", "trace_exec", Field, "task_struct.real_start_time", 5, 5, Load, startObjectARM64},
		"task_btf":      {"task_btf", "trace_exec", Helper, "bpf_get_current_task_btf", 5, 11, Load, taskBTFObjectARM64},
		"loop":          {"loop", "trace_exec", Helper, "bpf_loop", 5, 17, Load, loopObjectARM64},
		"kern_ctx":      {"kern_ctx", "trace_exit", Kfunc, "bpf_cast_to_kern_ctx", 6, 2, Load, kernCtxObjectARM64},
		"kprobe_target": {"kprobe_target", "trace_open", KprobeTarget, "__arm64_sys_epoll_pwait2", 5, 11, Attach, kprobeTargetObjectARM64},
		"fentry":        {"fentry", "trace_exit", Trampoline, "fentry do_exit", 6, 4, Attach, fentryObjectARM64},
	},
}

// hostArch is the architecture whose builds Variants and Lookup return.
func hostArch() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "amd64"
}

// Variants returns every broken build for the architecture this program
// runs on, by name.
func Variants() []Variant { return VariantsFor(hostArch()) }

// VariantsFor returns every broken build for arch ("amd64", "arm64"), by
// name; none for another architecture.
func VariantsFor(arch string) []Variant {
	out := make([]Variant, 0, len(variants[arch]))
	for _, v := range variants[arch] {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the broken build called name for the architecture this
// program runs on.
func Lookup(name string) (Variant, error) { return LookupFor(hostArch(), name) }

// LookupFor returns the broken build called name for arch.
func LookupFor(arch, name string) (Variant, error) {
	variants := variants[arch]
	v, ok := variants[name]
	if !ok {
		names := make([]string, 0, len(variants))
		for n := range variants {
			names = append(names, n)
		}
		sort.Strings(names)
		return Variant{}, fmt.Errorf("no broken tracer variant %q (want one of %s)", name, strings.Join(names, ", "))
	}
	return v, nil
}
