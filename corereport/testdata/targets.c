// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// targets.c is the attach-target test object of package corereport: one
// program per pattern that real tracers use and that BTF alone cannot
// predict, so the config and kallsyms checks have each case to decide.
//
// Rebuild targets.o with `go generate ./corereport/` (see gen.go).

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

// A map whose size user space sets before load: max_entries 0.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
} sized_at_runtime SEC(".maps");

__u64 hits;

// A syscall tracepoint: ftrace's syscall metadata, no per-event BTF.
SEC("tracepoint/syscalls/sys_enter_execve")
int sys_enter_execve(void *ctx) { hits++; return 0; }

// A syscall whose SYSCALL_DEFINE0 wrapper is in kallsyms, not in BTF.
SEC("tracepoint/syscalls/sys_exit_getuid")
int sys_exit_getuid(void *ctx) { hits++; return 0; }

// A syscall 5.10 lacks (epoll_pwait2 came in 5.11).
SEC("tracepoint/syscalls/sys_enter_epoll_pwait2")
int sys_enter_epoll_pwait2(void *ctx) { hits++; return 0; }

// A kprobe on a function only kallsyms has (BTF leaves it out).
SEC("kprobe/__x64_sys_getuid")
int kprobe_kallsyms_only(void *ctx) { hits++; return 0; }

// A kprobe whose target BTF lists but kallsyms lacks on some kernels.
SEC("kprobe/blk_account_io_merge_bio")
int kprobe_btf_only(void *ctx) { hits++; return 0; }

// A placeholder target user space replaces at run time.
SEC("kprobe/dummy_placeholder")
int kprobe_placeholder(void *ctx) { hits++; return 0; }

// An fentry on a function without an ftrace call site on some kernels.
SEC("fentry/blk_account_io_done")
int fentry_untraceable(void *ctx) { hits++; return 0; }

// An fentry on a traceable function.
SEC("fentry/vfs_read")
int fentry_traceable(void *ctx) { hits++; return 0; }

// kprobe_multi: needs CONFIG_FPROBE.
SEC("kprobe.multi/vfs_rea*")
int kprobe_multi(void *ctx) { hits++; return 0; }

// A program using the map user space must size.
SEC("kprobe/vfs_read")
int uses_sized_map(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&sized_at_runtime, &k);
	if (v)
		(*v)++;
	return 0;
}
