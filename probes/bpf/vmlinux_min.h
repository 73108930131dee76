/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vmlinux_min.h: the few kernel types the corematrix probes touch, kept by hand.
 *
 * Every kernel struct carries preserve_access_index, so each field access
 * becomes a CO-RE relocation that the loader resolves against the running
 * kernel's BTF: only the names and types of the fields matter here, never
 * their offsets or the order they are declared in. Fields that the kernel
 * renamed live in "flavor" structs (a ___suffix is ignored when matching), so
 * the same object reads the new field on new kernels and the old one on old
 * kernels, guarded by bpf_core_field_exists().
 *
 * Defining __VMLINUX_H__ makes bpf_tracing.h use the kernel's pt_regs field
 * names (di, si, ax), which is what struct pt_regs below declares.
 */
#ifndef __VMLINUX_H__
#define __VMLINUX_H__

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __s32 s32;
typedef __u64 u64;
typedef __s64 s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
typedef int pid_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;

#define true 1
#define false 0
#define NULL ((void *)0)

/* UAPI values (include/uapi/linux/bpf.h); stable ABI, never relocated. */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
};

#define BPF_F_CURRENT_CPU 0xffffffffULL

#define AF_INET 2
#define AF_INET6 10

#if defined(__TARGET_ARCH_arm64)
/*
 * arm64: the kprobe context is struct pt_regs, which starts with the UAPI
 * struct user_pt_regs (x0..x30, sp, pc, pstate); libbpf's PT_REGS_* macros
 * read it through struct user_pt_regs.
 */
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};

struct pt_regs {
	struct user_pt_regs user_regs;
	__u64 orig_x0;
};
#else
/* x86-64 struct pt_regs: the kprobe context, ptrace ABI layout. */
struct pt_regs {
	unsigned long r15;
	unsigned long r14;
	unsigned long r13;
	unsigned long r12;
	unsigned long bp;
	unsigned long bx;
	unsigned long r11;
	unsigned long r10;
	unsigned long r9;
	unsigned long r8;
	unsigned long ax;
	unsigned long cx;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
	unsigned long ip;
	unsigned long cs;
	unsigned long flags;
	unsigned long sp;
	unsigned long ss;
};
#endif

/* The context of a BPF_PROG_TYPE_RAW_TRACEPOINT program (UAPI). */
struct bpf_raw_tracepoint_args {
	__u64 args[0];
};

/* Exists in kernel BTF from 5.8 on: its presence selects the ring buffer. */
struct bpf_ringbuf {
} __attribute__((preserve_access_index));

typedef struct {
	uid_t val;
} kuid_t;

typedef struct {
	gid_t val;
} kgid_t;

struct cred {
	kuid_t uid;
	kgid_t gid;
} __attribute__((preserve_access_index));

/*
 * task_struct as of 5.14+. start_boottime (5.5+) and __state (5.14+) have
 * older names, declared in the flavors below.
 */
struct task_struct {
	unsigned int __state;
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	const struct cred *cred;
	char comm[16];
	u64 start_boottime;
} __attribute__((preserve_access_index));

/* Before 5.5 the boot-based start time was called real_start_time (u64 ns). */
struct task_struct___pre55 {
	u64 real_start_time;
} __attribute__((preserve_access_index));

/* Before 5.14 the task state was "volatile long state". */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

struct qstr {
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct inode {
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct dentry {
	struct qstr d_name;
	struct inode *d_inode;
} __attribute__((preserve_access_index));

struct path {
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct in6_addr {
	union {
		__u8 u6_addr8[16];
	} in6_u;
} __attribute__((preserve_access_index));

/*
 * In the kernel these fields sit in anonymous unions and structs; CO-RE finds
 * them by name through the anonymous members.
 */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));

/* Tracepoint sched/sched_process_exec record (trace_event_raw_*). */
struct trace_entry {
	unsigned short type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
} __attribute__((preserve_access_index));

struct trace_event_raw_sched_process_exec {
	struct trace_entry ent;
	u32 __data_loc_filename;
	pid_t pid;
	pid_t old_pid;
	char __data[0];
} __attribute__((preserve_access_index));

#endif /* __VMLINUX_H__ */
