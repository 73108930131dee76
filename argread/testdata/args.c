// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// args.c is the argument-drift test object of package argread: programs that
// read vfs_unlink's arguments by position, correctly and not. vfs_unlink is
//   5.10:       int vfs_unlink(struct inode *dir, struct dentry *dentry, ...)
//   5.12..6.2:  int vfs_unlink(struct user_namespace *mnt_userns, struct inode *dir, struct dentry *dentry, ...)
//   6.3..:      int vfs_unlink(struct mnt_idmap *idmap, struct inode *dir, struct dentry *dentry, ...)
// so the dentry is argument 2 on 5.10 and argument 3 from 5.12 on.
//
// Built twice: args.o for x86-64 and args_arm64.o for arm64, whose
// kprobe context is a different pt_regs (arguments in regs[0..7]). Rebuild
// both with `go generate ./argread/` (see gen.go).

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

// bpf_tracing.h uses the kernel's pt_regs field names (di, si) when it sees
// vmlinux.h's guard.
#define __VMLINUX_H__

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#if defined(__TARGET_ARCH_arm64)
// arm64 (args_arm64.o): libbpf's PT_REGS_PARMn read struct user_pt_regs,
// here without CO-RE, so PT_REGS_PARM2 is a plain context load at offset 8
// (regs[1]) and PT_REGS_PARM2_CORE a bpf_probe_read_kernel of a CO-RE
// relocated &regs[1]. A flavor of user_pt_regs with CO-RE makes the plain
// field read a relocation (user_pt_regs.regs[1]).
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp, pc, pstate;
};

struct user_pt_regs___core {
	__u64 regs[31];
} __attribute__((preserve_access_index));

// The kernel's pt_regs starts with user_pt_regs.
struct pt_regs {
	struct user_pt_regs user_regs;
	__u64 orig_x0;
};

#define plain_regs pt_regs
#define CORE_PARM2(ctx) (((struct user_pt_regs___core *)(ctx))->regs[1])
#define SYSCALL_WRAPPER "__arm64_sys_unlinkat"
#else
// The kernel's x86-64 pt_regs as vmlinux.h declares it: reading a field is a
// CO-RE relocation (pt_regs.si).
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di;
	unsigned long orig_ax, ip, cs, flags, sp, ss;
} __attribute__((preserve_access_index));

// The same layout without CO-RE: reading a field is a plain context load at
// a fixed offset (si: 104).
struct plain_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di;
	unsigned long orig_ax, ip, cs, flags, sp, ss;
};

#define CORE_PARM2(ctx) PT_REGS_PARM2(ctx)
#define SYSCALL_WRAPPER "__x64_sys_unlinkat"
#endif

struct inode {
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct dentry {
	struct inode *d_inode;
} __attribute__((preserve_access_index));

// 6.3+: the idmap type exists.
struct mnt_idmap {
	int dummy;
} __attribute__((preserve_access_index));

// 5.12..6.2: struct vfsmount has mnt_userns.
struct vfsmount___userns {
	void *mnt_userns;
} __attribute__((preserve_access_index));

__u64 out_ino;
__s64 out_ret;

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline void record(struct dentry *d)
{
	out_ino = BPF_CORE_READ(d, d_inode, i_ino);
}

// core_drift reads argument 2 as the dentry on every kernel, through a CO-RE
// pt_regs: right on 5.10, the parent directory's inode from 5.12 on.
SEC("kprobe/vfs_unlink")
int core_drift(struct pt_regs *ctx)
{
	record((struct dentry *)CORE_PARM2(ctx));
	return 0;
}

// coreread_drift is the same mistake through bpf_probe_read_kernel of a
// CO-RE relocated &ctx->si (PT_REGS_PARM2_CORE).
SEC("kprobe/vfs_unlink")
int coreread_drift(struct pt_regs *ctx)
{
	record((struct dentry *)PT_REGS_PARM2_CORE(ctx));
	return 0;
}

// syscall_inner reads the syscall's own arguments from the pt_regs its
// wrapper receives as argument 1: only that first argument is the traced
// function's; the inner si is not vfs_unlink's or anyone's argument 2.
SEC("kprobe/" SYSCALL_WRAPPER)
int syscall_inner(struct pt_regs *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)PT_REGS_PARM1(ctx);

	out_ret = (long)PT_REGS_PARM2_CORE(regs);
	return 0;
}

// plain_drift is the same mistake with a plain context load.
SEC("kprobe/vfs_unlink")
int plain_drift(struct plain_regs *ctx)
{
	record((struct dentry *)PT_REGS_PARM2(ctx));
	return 0;
}

// guarded lets a CO-RE check pick the argument: 3 where the kernel has
// idmapped mounts (mnt_idmap, or vfsmount.mnt_userns), 2 before. The
// barrier_var()s keep clang from merging the two context loads into one
// load at a computed offset, which the verifier rejects.
SEC("kprobe/vfs_unlink")
int guarded(struct plain_regs *ctx)
{
	struct dentry *d;

	if (bpf_core_type_exists(struct mnt_idmap) ||
	    bpf_core_field_exists(struct vfsmount___userns, mnt_userns)) {
		d = (struct dentry *)PT_REGS_PARM3(ctx);
		barrier_var(d);
	} else {
		d = (struct dentry *)PT_REGS_PARM2(ctx);
		barrier_var(d);
	}
	record(d);
	return 0;
}

// fentry_drift reads ctx[1] (argument 2) as the dentry.
SEC("fentry/vfs_unlink")
int BPF_PROG(fentry_drift, void *arg1, struct dentry *dentry)
{
	record(dentry);
	return 0;
}

// fexit_drift reads the return value at ctx[3], after 5.10's three
// arguments: from 5.12 on that slot is delegated_inode, and the return
// value is at ctx[4].
SEC("fexit/vfs_unlink")
int fexit_drift(unsigned long long *ctx)
{
	out_ret = (int)ctx[3];
	return 0;
}

// stable reads do_exit's only argument, the same on every kernel.
SEC("kprobe/do_exit")
int stable(struct plain_regs *ctx)
{
	out_ret = (long)PT_REGS_PARM1(ctx);
	return 0;
}

// missing traces a function no kernel has: its reads are unknown.
SEC("kprobe/corematrix_no_such_function")
int missing(struct plain_regs *ctx)
{
	out_ret = (long)PT_REGS_PARM1(ctx);
	return 0;
}
