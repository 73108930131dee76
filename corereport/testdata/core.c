// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// core.c is the CO-RE test object of package corereport: each program reads
// a kernel field through a flavor struct, one guarded by
// bpf_core_field_exists and one not, so the offline relocation report has a
// guarded and an unguarded poisoned relocation to tell apart.
//
// Rebuild core.o with `go generate ./corereport/` (see gen.go).

#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

// The kernel types this object touches, kept as small as CO-RE allows.
struct task_struct {
	unsigned int __state; // since 5.14
	int pid;
} __attribute__((preserve_access_index));

// task_struct before 5.14: volatile long state.
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

// A field no kernel has: it relocates to poison everywhere.
struct task_struct___bogus {
	long corematrix_no_such_field;
} __attribute__((preserve_access_index));

// A type no kernel has, for type_exists.
struct corematrix_no_such_type {
	int x;
} __attribute__((preserve_access_index));

// Present since 5.8.
struct bpf_ringbuf {
	int dummy;
} __attribute__((preserve_access_index));

__u64 out_state;
__u64 out_pid;
__u64 out_bogus;
__u64 out_types;

// guarded_state loads on every kernel: it reads the pre-5.14 field only
// where it exists and __state otherwise.
SEC("kprobe/do_nanosleep")
int guarded_state(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u64 state = 0;

	if (bpf_core_field_exists(((struct task_struct___pre514 *)t)->state)) {
		state = BPF_CORE_READ((struct task_struct___pre514 *)t, state);
	} else {
		state = BPF_CORE_READ(t, __state);
	}
	out_state = state;
	out_pid = BPF_CORE_READ(t, pid);
	return 0;
}

// unguarded_state reads the pre-5.14 field with no existence check: its
// relocation is poisoned on 5.14 and newer, and the load fails there.
SEC("kprobe/do_nanosleep")
int unguarded_state(void *ctx)
{
	struct task_struct___pre514 *t = (struct task_struct___pre514 *)bpf_get_current_task();

	out_state = BPF_CORE_READ(t, state);
	return 0;
}

// guarded_bogus reads a field no kernel has behind an existence check: the
// poisoned instruction is dead code and the program loads everywhere.
SEC("kprobe/do_nanosleep")
int guarded_bogus(void *ctx)
{
	struct task_struct___bogus *t = (struct task_struct___bogus *)bpf_get_current_task();

	if (bpf_core_field_exists(t->corematrix_no_such_field))
		out_bogus = BPF_CORE_READ(t, corematrix_no_such_field);
	return 0;
}

// unguarded_bogus reads a field no kernel has: it fails to load everywhere.
SEC("kprobe/do_nanosleep")
int unguarded_bogus(void *ctx)
{
	struct task_struct___bogus *t = (struct task_struct___bogus *)bpf_get_current_task();

	out_bogus = BPF_CORE_READ(t, corematrix_no_such_field);
	return 0;
}

// type_checks records which types exist; it loads everywhere.
SEC("kprobe/do_nanosleep")
int type_checks(void *ctx)
{
	__u64 v = 0;

	if (bpf_core_type_exists(struct bpf_ringbuf))
		v |= 1;
	if (bpf_core_type_exists(struct corematrix_no_such_type))
		v |= 2;
	out_types = v;
	return 0;
}

// read_state is a BPF-to-BPF subprogram holding the CO-RE check and both
// reads, so the guard and the poisoned instruction live in the callee.
static __attribute__((noinline)) __u64 read_state(struct task_struct *t)
{
	if (bpf_core_field_exists(((struct task_struct___pre514 *)t)->state))
		return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
	return BPF_CORE_READ(t, __state);
}

// subprog_state loads on every kernel, like guarded_state.
SEC("kprobe/do_nanosleep")
int subprog_state(void *ctx)
{
	out_state = read_state((struct task_struct *)bpf_get_current_task());
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
