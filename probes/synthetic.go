package probes

import (
	"fmt"
	"sort"

	"github.com/cilium/ebpf/btf"
)

// OldKernelTypes builds synthetic kernel BTF that looks like a kernel before
// 5.5 from the BTF of a newer one (host): task_struct has real_start_time
// and a long state, and there is no bpf_ringbuf. Offsets are host's, so
// programs relocated against it (Options.KernelTypes) on that kernel read
// real data through the old flavors: the way to exercise the pre-5.5 and
// pre-5.14 branches and the perf fallback on a modern kernel. drop names
// task_struct members to leave out. Such BTF is no real kernel's: coverage
// it gives is synthetic.
func OldKernelTypes(host *btf.Spec, drop ...string) (*btf.Spec, error) {
	var hostTask, hostCred *btf.Struct
	if err := host.TypeByName("task_struct", &hostTask); err != nil {
		return nil, fmt.Errorf("old kernel types: %w", err)
	}
	if err := host.TypeByName("cred", &hostCred); err != nil {
		return nil, fmt.Errorf("old kernel types: %w", err)
	}
	var missing error
	// off finds the first of names (the current name, then the old one).
	off := func(s *btf.Struct, names ...string) btf.Bits {
		for _, name := range names {
			for _, m := range s.Members {
				if m.Name == name {
					return m.Offset
				}
			}
		}
		missing = fmt.Errorf("old kernel types: %s has none of the members %v", s.Name, names)
		return 0
	}
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	long := &btf.Int{Name: "long int", Size: 8, Encoding: btf.Signed}
	u64 := &btf.Int{Name: "long long unsigned int", Size: 8}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Char}
	kuid := &btf.Typedef{Name: "kuid_t", Type: &btf.Struct{Size: 4, Members: []btf.Member{{Name: "val", Type: u32}}}}
	kgid := &btf.Typedef{Name: "kgid_t", Type: &btf.Struct{Size: 4, Members: []btf.Member{{Name: "val", Type: u32}}}}
	cred := &btf.Struct{Name: "cred", Size: hostCred.Size, Members: []btf.Member{
		{Name: "uid", Type: kuid, Offset: off(hostCred, "uid")},
		{Name: "gid", Type: kgid, Offset: off(hostCred, "gid")},
	}}
	task := &btf.Struct{Name: "task_struct", Size: hostTask.Size}
	members := []btf.Member{
		{Name: "state", Type: long, Offset: off(hostTask, "__state", "state")},
		{Name: "pid", Type: i32, Offset: off(hostTask, "pid")},
		{Name: "tgid", Type: i32, Offset: off(hostTask, "tgid")},
		{Name: "real_parent", Type: &btf.Pointer{Target: task}, Offset: off(hostTask, "real_parent")},
		{Name: "cred", Type: &btf.Pointer{Target: &btf.Const{Type: cred}}, Offset: off(hostTask, "cred")},
		{Name: "comm", Type: &btf.Array{Index: u32, Type: char, Nelems: 16}, Offset: off(hostTask, "comm")},
		{Name: "real_start_time", Type: u64, Offset: off(hostTask, "start_boottime", "real_start_time")},
	}
	for _, m := range members {
		keep := true
		for _, d := range drop {
			keep = keep && m.Name != d
		}
		if keep {
			task.Members = append(task.Members, m)
		}
	}
	sort.Slice(task.Members, func(i, j int) bool { return task.Members[i].Offset < task.Members[j].Offset })

	if missing != nil {
		return nil, missing
	}
	var exec *btf.Struct
	if err := host.TypeByName("trace_event_raw_sched_process_exec", &exec); err != nil {
		return nil, fmt.Errorf("old kernel types: %w", err)
	}
	b, err := btf.NewBuilder([]btf.Type{task, cred, exec}, nil)
	if err != nil {
		return nil, fmt.Errorf("old kernel types: %w", err)
	}
	return b.Spec()
}
