package ground

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// Expect is the set of CO-RE decisions a kernel forces on a portable tracer.
type Expect struct {
	// StartBoottime: task_struct has start_boottime (5.5+); otherwise the
	// tracer must read real_start_time.
	StartBoottime bool
	// StateNew: task_struct has `unsigned int __state` (5.14+); otherwise the
	// tracer must read `long state`.
	StateNew bool
	// RingBuf: the kernel has BPF ring buffers (5.8+); otherwise only perf
	// event arrays.
	RingBuf bool
}

func (e Expect) String() string {
	start, state, out := "real_start_time", "state", "perfbuf"
	if e.StartBoottime {
		start = "start_boottime"
	}
	if e.StateNew {
		state = "__state"
	}
	if e.RingBuf {
		out = "ringbuf"
	}
	return fmt.Sprintf("{start:%s state:%s output:%s}", start, state, out)
}

// ExpectFromVersion derives the decisions from the kernel version alone, as
// the upstream changes that force them landed: start_boottime in 5.5,
// __state in 5.14, the BPF ring buffer in 5.8.
func ExpectFromVersion(v Version) Expect {
	return Expect{
		StartBoottime: v.AtLeast(5, 5),
		StateNew:      v.AtLeast(5, 14),
		RingBuf:       v.AtLeast(5, 8),
	}
}

// ExpectFromBTF derives the decisions from the kernel's own types: whether
// struct task_struct has start_boottime and __state, and whether struct
// bpf_ringbuf exists. It fails if task_struct has neither (or both) of a
// renamed pair, since then no branch would be right.
func ExpectFromBTF(spec *btf.Spec) (Expect, error) {
	var task *btf.Struct
	if err := spec.TypeByName("task_struct", &task); err != nil {
		return Expect{}, fmt.Errorf("btf task_struct: %w", err)
	}
	has := func(name string) bool { return hasMember(task, name) }
	var e Expect
	switch boot, real := has("start_boottime"), has("real_start_time"); {
	case boot && !real:
		e.StartBoottime = true
	case real && !boot:
	default:
		return Expect{}, fmt.Errorf("btf task_struct: start_boottime=%t real_start_time=%t, want exactly one", boot, real)
	}
	switch state, old := has("__state"), has("state"); {
	case state && !old:
		e.StateNew = true
	case old && !state:
	default:
		return Expect{}, fmt.Errorf("btf task_struct: __state=%t state=%t, want exactly one", state, old)
	}
	var rb *btf.Struct
	err := spec.TypeByName("bpf_ringbuf", &rb)
	switch {
	case err == nil:
		e.RingBuf = true
	case errors.Is(err, btf.ErrNotFound):
	default:
		return Expect{}, fmt.Errorf("btf bpf_ringbuf: %w", err)
	}
	return e, nil
}

// hasMember looks for a named member of s, descending into anonymous struct
// and union members (randomized layouts wrap fields in one).
func hasMember(s btf.Type, name string) bool {
	var members []btf.Member
	switch t := s.(type) {
	case *btf.Struct:
		members = t.Members
	case *btf.Union:
		members = t.Members
	}
	for _, m := range members {
		if m.Name == name {
			return true
		}
		if m.Name == "" && hasMember(btf.UnderlyingType(m.Type), name) {
			return true
		}
	}
	return false
}

// ExpectFromKernelBTF loads the running kernel's BTF and derives the decisions.
func ExpectFromKernelBTF() (Expect, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return Expect{}, fmt.Errorf("load kernel btf: %w", err)
	}
	return ExpectFromBTF(spec)
}
