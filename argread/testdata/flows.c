// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// flows.c is the second test object of package argread: argument reads
// whose values travel the ways real tracers make them travel, through
// callee-saved registers and the stack across helper calls, through
// BPF-to-BPF subprograms, and reads a CO-RE check selects per kernel.
// vfs_unlink is
//   5.10:       int vfs_unlink(struct inode *dir, struct dentry *dentry, ...)
//   5.12..6.2:  int vfs_unlink(struct user_namespace *mnt_userns, struct inode *dir, struct dentry *dentry, ...)
//   6.3..:      int vfs_unlink(struct mnt_idmap *idmap, struct inode *dir, struct dentry *dentry, ...)
//
// Rebuild flows.o with `go generate ./argread/` (see gen.go). The tests
// check the compiled form each program relies on (the context spilled to
// the stack, a call to a subprogram), so a compiler that stops producing it
// fails them rather than testing nothing.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

typedef _Bool bool;

// The enum values the maps and updates below need, as the UAPI defines them.
enum { BPF_MAP_TYPE_HASH = 1, BPF_MAP_TYPE_STACK_TRACE = 7, BPF_MAP_TYPE_RINGBUF = 27 };
enum { BPF_ANY = 0 };

#define __VMLINUX_H__

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

// The kernel's x86-64 pt_regs with CO-RE, as vmlinux.h declares it.
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di;
	unsigned long orig_ax, ip, cs, flags, sp, ss;
} __attribute__((preserve_access_index));

// The same layout without CO-RE, as the tracer's vmlinux_min.h declares it.
struct plain_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di;
	unsigned long orig_ax, ip, cs, flags, sp, ss;
};

struct inode {
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct dentry {
	struct inode *d_inode;
} __attribute__((preserve_access_index));

// struct renamedata gained old_mnt_userns in 5.12 (new_mnt_idmap from
// 6.3), with the same change that gave vfs_unlink its leading argument:
// the check a file-lifetime tracer uses to pick vfs_unlink's dentry.
struct renamedata___x {
	void *old_mnt_userns;
	void *new_mnt_idmap;
} __attribute__((preserve_access_index));

struct event {
	__u64 id;
	__u64 ts;
	__u64 ino;
	__u64 cookie;
	__u32 cpu;
	__u32 uid;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, void *);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct event);
} current SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 64);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

__u64 out_ret;

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline void emit(struct event *e)
{
	bpf_ringbuf_output(&events, e, sizeof(*e), 0);
}

// helper_first is the new contributor's unlink event in the natural order:
// the helpers first, then PT_REGS_PARM2 for the dentry. The values kept
// across the calls leave no callee-saved register for the context, which
// clang spills to the stack and loads back. Argument 2 is the dentry on
// 5.10 only: drift.
SEC("kprobe/vfs_unlink")
int helper_first(struct plain_regs *ctx)
{
	struct event e = {};
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ts = bpf_ktime_get_ns();
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	__u64 cookie = bpf_get_prandom_u32();
	struct dentry *d;

	if (!id)
		return 0;
	d = (struct dentry *)PT_REGS_PARM2(ctx);
	e.id = id;
	e.ts = ts;
	e.cpu = cpu;
	e.uid = uid;
	e.cookie = cookie;
	e.ino = BPF_CORE_READ(d, d_inode, i_ino);
	emit(&e);
	return 0;
}

// unlinked_ino reads the dentry's inode number from the context it is
// handed: a BPF-to-BPF call, not inlined.
static __noinline __u64 unlinked_ino(struct plain_regs *ctx)
{
	struct dentry *d = (struct dentry *)PT_REGS_PARM2(ctx);

	return BPF_CORE_READ(d, d_inode, i_ino);
}

// subprog_drift reads argument 2 inside a subprogram: drift.
SEC("kprobe/vfs_unlink")
int subprog_drift(struct plain_regs *ctx)
{
	struct event e = {};

	e.id = bpf_get_current_pid_tgid();
	e.ino = unlinked_ino(ctx);
	emit(&e);
	return 0;
}

// second_arg returns argument 2 to its caller: the value comes back in r0.
static __noinline void *second_arg(struct pt_regs *ctx)
{
	return (void *)PT_REGS_PARM2(ctx);
}

// subprog_return_drift reads argument 2 in a subprogram and uses it in the
// caller: drift.
SEC("kprobe/vfs_unlink")
int subprog_return_drift(struct pt_regs *ctx)
{
	struct dentry *d = second_arg(ctx);
	struct event e = {};

	e.ino = BPF_CORE_READ(d, d_inode, i_ino);
	emit(&e);
	return 0;
}

// selected is a file-lifetime tracer's vfs_unlink probe: every declared
// argument read at entry, and a CO-RE check on struct renamedata picks
// arg1 (argument 2, the dentry on 5.10) or arg2 (argument 3, the dentry
// from 5.12 on). The value not picked reaches no use on that kernel: not
// drift.
SEC("kprobe/vfs_unlink")
int BPF_KPROBE(selected, void *arg0, void *arg1, void *arg2)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bool has_arg = bpf_core_field_exists(struct renamedata___x, old_mnt_userns) ||
		       bpf_core_field_exists(struct renamedata___x, new_mnt_idmap);
	struct event e = {};
	__u64 *tsp;

	tsp = has_arg ? bpf_map_lookup_elem(&start, &arg2) : bpf_map_lookup_elem(&start, &arg1);
	if (!tsp)
		return 0;
	e.ts = *tsp;
	e.cookie = (__u64)(has_arg ? arg2 : arg1);
	bpf_map_update_elem(&current, &tid, &e, BPF_ANY);
	return 0;
}

// selected_wrong makes the same choice the wrong way round: each read is
// selected on some kernels, but the program reads delegated_inode (struct
// inode **) on 5.10 and the parent directory (struct inode *) from 5.12
// on: drift.
SEC("kprobe/vfs_unlink")
int BPF_KPROBE(selected_wrong, void *arg0, void *arg1, void *arg2)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bool has_arg = bpf_core_field_exists(struct renamedata___x, old_mnt_userns) ||
		       bpf_core_field_exists(struct renamedata___x, new_mnt_idmap);
	struct event e = {};

	e.cookie = (__u64)(has_arg ? arg1 : arg2);
	bpf_map_update_elem(&current, &tid, &e, BPF_ANY);
	return 0;
}

// fentry_second reads ctx[1] for its caller.
static __noinline void *fentry_second(__u64 *ctx)
{
	return (void *)ctx[1];
}

// fentry_subprog reads argument 2 through a subprogram, after a helper
// call: drift.
SEC("fentry/vfs_unlink")
int fentry_subprog(__u64 *ctx)
{
	struct event e = {};

	e.id = bpf_get_current_pid_tgid();
	e.ino = BPF_CORE_READ((struct dentry *)fentry_second(ctx), d_inode, i_ino);
	emit(&e);
	return 0;
}

// ret_after_helpers reads vfs_unlink's return value after helper calls:
// an int on every kernel, stable.
SEC("kretprobe/vfs_unlink")
int ret_after_helpers(struct plain_regs *ctx)
{
	struct event e = {};

	e.id = bpf_get_current_pid_tgid();
	e.ts = bpf_ktime_get_ns();
	e.cookie = (__u64)PT_REGS_RC(ctx);
	emit(&e);
	return 0;
}

// context_only passes its context to bpf_get_stackid and reads no
// argument.
SEC("kprobe/vfs_unlink")
int context_only(struct plain_regs *ctx)
{
	out_ret = bpf_get_stackid(ctx, &stacks, 0);
	return 0;
}

// computed reads the context at an offset known only at run time (the
// verifier would reject it; the analysis must say unknown, not stay
// silent).
SEC("kprobe/vfs_unlink")
int computed(struct plain_regs *ctx)
{
	__u32 i = bpf_get_prandom_u32() & 7;

	out_ret = ((__u64 *)ctx)[i];
	return 0;
}

// unused_read reads argument 2 and never uses it (the empty asm keeps the
// load without using the value): dead on every kernel.
SEC("kprobe/vfs_unlink")
int unused_read(struct plain_regs *ctx)
{
	void *d = (void *)PT_REGS_PARM2(ctx);

	asm volatile("" : "+r"(d));
	return 0;
}

// func_arg reads argument 2 with bpf_get_func_arg (5.17): drift.
SEC("fentry/vfs_unlink")
int func_arg(__u64 *ctx)
{
	__u64 d = 0;

	bpf_get_func_arg(ctx, 1, &d);
	out_ret = BPF_CORE_READ((struct dentry *)d, d_inode, i_ino);
	return 0;
}
