// Package broken holds deliberately broken builds of the corematrix tracer,
// used to show that the compatibility suite and the offline prediction of
// vmtest core-report catch real portability bugs. Each is probes/bpf/tracer.c
// with one small edit (see gen.sh).
//
// Field variants drop one bpf_core_field_exists() guard, so the object reads
// a renamed kernel field unconditionally, the mistake the tutorial the probes
// are modeled on makes. On a kernel that lacks the field the loader poisons
// the relocation and the verifier rejects the program ("bad CO-RE
// relocation"); where the field exists, the object loads and works:
//
//	state  reads task_struct.state without a guard: fails to load on 5.14+
//	start  reads task_struct.real_start_time without a guard: fails on 5.5+
//
// Feature variants use one thing kernels before some version lack, which the
// kernel's BTF alone tells:
//
//	task_btf       helper bpf_get_current_task_btf: fails to load before 5.11
//	loop           helper bpf_loop: fails to load before 5.17
//	kern_ctx       kfunc bpf_cast_to_kern_ctx: fails to load before 6.2
//	fentry         trace_exit as fentry on do_exit: a BPF trampoline on a kernel
//	               function, which x86 kernels attach from 5.5 and arm64 kernels
//	               only from 6.4 (trampolines came in 6.0, ftrace direct calls in
//	               6.4): fails to attach before (works on x86 5.10, fails on
//	               arm64 5.10 and 6.1)
//	kprobe_target  kprobe on the epoll_pwait2 syscall wrapper (__x64_sys_epoll_pwait2,
//	               on arm64 __arm64_sys_epoll_pwait2): loads, fails to attach before 5.11
//
// Every variant is built for x86-64 and for arm64, as the tracer is; Variants
// and Lookup give the builds for the architecture this program runs on (the
// guest's), VariantsFor and LookupFor those of another.
//
// It owns only these objects and their spec loaders; it imports cilium/ebpf
// and must not import any other corematrix package.
package broken
