// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tracer.c: the corematrix tracer, one CO-RE object for kernels 5.4 to 7.x.
 *
 * Programs (names are what Go sees):
 *   trace_exec       tracepoint sched/sched_process_exec
 *   trace_exit       kprobe do_exit
 *   trace_open       kprobe vfs_open
 *   connect4_entry   kprobe tcp_v4_connect      (stashes the socket)
 *   connect4_return  kretprobe tcp_v4_connect   (reads it, emits)
 *   connect6_entry   kprobe tcp_v6_connect
 *   connect6_return  kretprobe tcp_v6_connect
 *   sched_switch     raw_tracepoint sched_switch (prev task state)
 *
 * Portability rules kept here (kernel 5.4 is the floor):
 *   - no bpf_get_current_task_btf (5.11), no tp_btf/fentry (5.5), no
 *     bounded loops (5.3; the ancestry walk is unrolled);
 *   - const volatile globals need 5.2 (frozen .rodata);
 *   - bpf_probe_read_kernel* (5.5) is rewritten to bpf_probe_read* by the
 *     cilium/ebpf loader on older kernels;
 *   - output goes to a BPF ring buffer when struct bpf_ringbuf exists in the
 *     kernel's BTF (5.8+) and user space did not force perf; otherwise the
 *     same "events" map is a perf event array (the loader swaps its type) and
 *     records are staged in a per-CPU scratch buffer. The untaken side is dead
 *     code the verifier never walks, so its helpers need not exist.
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * TASK_REPORT from include/linux/sched.h: TASK_RUNNING | TASK_INTERRUPTIBLE |
 * TASK_UNINTERRUPTIBLE | __TASK_STOPPED | __TASK_TRACED | EXIT_DEAD |
 * EXIT_ZOMBIE | TASK_PARKED. These low bits are the same from 4.14 to 7.x;
 * higher bits (TASK_NOLOAD, TASK_FREEZABLE 0x2000 since 6.1, ...) moved.
 */
#define TASK_REPORT 0x7f

/* Set by the loader. true: ring buffer if the kernel has one. */
const volatile bool use_ringbuf = true;
/* Set by the loader. true: only tgids in the targets map are traced. */
const volatile bool filter_tgids = false;

/* Indexes of the drops counter array. */
enum drop_reason {
	DROP_RINGBUF_RESERVE = 0, /* bpf_ringbuf_reserve() returned NULL */
	DROP_PERF_OUTPUT = 1,     /* bpf_perf_event_output() failed */
	DROP_MAX = 2,
};

union any_event {
	struct exec_event exec;
	struct exit_event exit;
	struct open_event open;
	struct connect_event connect;
	struct sched_event sched;
};

struct connect_key {
	__u64 pid_tgid;
	__u32 family;
	__u32 _pad;
};

/* Ring buffer; the loader rewrites it to a perf event array below 5.8. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Per-CPU staging area for the perf path. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, union any_event);
} scratch SEC(".maps");

/* Per-CPU drop counters, indexed by enum drop_reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Target tgids (value unused); consulted when filter_tgids is set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

/* Socket of an in-flight tcp_v*_connect, per thread and family. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct connect_key);
	__type(value, __u64);
} connect_sk SEC(".maps");

static __always_inline bool wanted(__u32 tgid)
{
	if (!filter_tgids)
		return true;
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

static __always_inline void count_drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &reason);

	if (n)
		*n += 1;
}

static __always_inline bool ringbuf_path(void)
{
	return use_ringbuf && bpf_core_type_exists(struct bpf_ringbuf);
}

/*
 * reserve returns zeroed room for a record of size bytes and reports the
 * output branch in *core, or NULL (counted as a drop on the ring buffer).
 */
static __always_inline void *reserve(__u32 size, __u32 *core)
{
	__u32 zero = 0;
	void *buf;

	if (ringbuf_path()) {
		*core = CORE_RINGBUF;
		buf = bpf_ringbuf_reserve(&events, size, 0);
		if (!buf)
			count_drop(DROP_RINGBUF_RESERVE);
		return buf;
	}
	*core = CORE_PERFBUF;
	return bpf_map_lookup_elem(&scratch, &zero);
}

static __always_inline void submit(void *ctx, void *buf, __u32 size)
{
	if (ringbuf_path()) {
		bpf_ringbuf_submit(buf, 0);
		return;
	}
	if (bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, buf, size) < 0)
		count_drop(DROP_PERF_OUTPUT);
}

static __always_inline void fill_current(struct event_header *h, __u32 kind, __u32 core,
					 __u64 pid_tgid)
{
	h->kind = kind;
	h->core = core;
	h->ktime = bpf_ktime_get_ns();
	h->pid = (__u32)pid_tgid;
	h->tgid = pid_tgid >> 32;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/*
 * ancestry_depth counts real_parent hops from task up to the first task that
 * is its own real_parent (the idle task, pid 0, whose real_parent points to
 * itself). So pid 1 has depth 1, a child of pid 1 depth 2, and in general the
 * depth equals the number of entries in the chain pid, ppid, ppid of ppid, ...
 * down to and including pid 1 as /proc/<pid>/stat field 4 shows it (kernel
 * threads count the same way via kthreadd, pid 2). A process reparented to
 * pid 1 or a subreaper counts its current parents. At most MAX_ANCESTRY hops
 * are followed; when the root was not reached, EXEC_DEPTH_TRUNCATED is set and
 * the depth is MAX_ANCESTRY.
 */
static __always_inline __u32 ancestry_depth(struct task_struct *task, __u32 *flags)
{
	struct task_struct *t = task;
	__u32 depth = 0;
	int i;

#pragma unroll
	for (i = 0; i < MAX_ANCESTRY; i++) {
		struct task_struct *p = BPF_CORE_READ(t, real_parent);

		if (!p || p == t)
			return depth;
		depth++;
		t = p;
	}
	/* MAX_ANCESTRY hops taken: done only if t is the root. */
	if (BPF_CORE_READ(t, real_parent) != t)
		*flags |= EXEC_DEPTH_TRUNCATED;
	return depth;
}

SEC("tracepoint/sched/sched_process_exec")
int trace_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *task, *parent;
	struct exec_event *e;
	__u32 core, off;

	if (!wanted(id >> 32))
		return 0;
	e = reserve(sizeof(*e), &core);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));

	task = (struct task_struct *)bpf_get_current_task();
	parent = BPF_CORE_READ(task, real_parent);
	e->ppid = BPF_CORE_READ(parent, tgid);
	BPF_CORE_READ_STR_INTO(&e->parent_comm, parent, comm);
	e->uid = BPF_CORE_READ(task, cred, uid.val);
	e->gid = BPF_CORE_READ(task, cred, gid.val);

	if (bpf_core_field_exists(task->start_boottime)) {
		e->start_ns = BPF_CORE_READ(task, start_boottime);
		core |= CORE_START_BOOTTIME;
	} else {
		struct task_struct___pre55 *old = (void *)task;

		if (bpf_core_field_exists(old->real_start_time)) {
			e->start_ns = BPF_CORE_READ(old, real_start_time);
			core |= CORE_REAL_START_TIME;
		}
	}

	e->depth = ancestry_depth(task, &e->flags);

	off = ctx->__data_loc_filename & 0xFFFF;
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + off);

	fill_current(&e->hdr, EVENT_EXEC, core, id);
	submit(ctx, e, sizeof(*e));
	return 0;
}

SEC("kprobe/do_exit")
int trace_exit(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct exit_event *e;
	__u32 core;

	if (!wanted(id >> 32))
		return 0;
	e = reserve(sizeof(*e), &core);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->code = (long)PT_REGS_PARM1(ctx);
	fill_current(&e->hdr, EVENT_EXIT, core, id);
	submit(ctx, e, sizeof(*e));
	return 0;
}

SEC("kprobe/vfs_open")
int trace_open(struct pt_regs *ctx)
{
	struct path *path = (struct path *)PT_REGS_PARM1(ctx);
	__u64 id = bpf_get_current_pid_tgid();
	const unsigned char *name;
	struct dentry *dentry;
	struct open_event *e;
	__u32 core;

	if (!wanted(id >> 32))
		return 0;
	e = reserve(sizeof(*e), &core);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	dentry = BPF_CORE_READ(path, dentry);
	e->ino = BPF_CORE_READ(dentry, d_inode, i_ino);
	name = BPF_CORE_READ(dentry, d_name.name);
	bpf_probe_read_kernel_str(e->name, sizeof(e->name), name);
	fill_current(&e->hdr, EVENT_OPEN, core, id);
	submit(ctx, e, sizeof(*e));
	return 0;
}

static __always_inline int connect_entry(struct pt_regs *ctx, __u32 family)
{
	struct connect_key key = {};
	__u64 sk = (__u64)PT_REGS_PARM1(ctx);

	key.pid_tgid = bpf_get_current_pid_tgid();
	key.family = family;
	if (!wanted(key.pid_tgid >> 32))
		return 0;
	bpf_map_update_elem(&connect_sk, &key, &sk, BPF_ANY);
	return 0;
}

static __always_inline int connect_return(struct pt_regs *ctx, __u32 family)
{
	struct connect_key key = {};
	struct connect_event *e;
	struct sock *sk;
	__u64 *skp;
	__u32 core;

	key.pid_tgid = bpf_get_current_pid_tgid();
	key.family = family;
	skp = bpf_map_lookup_elem(&connect_sk, &key);
	if (!skp)
		return 0;
	sk = (struct sock *)*skp;
	bpf_map_delete_elem(&connect_sk, &key);

	e = reserve(sizeof(*e), &core);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->family = family;
	e->ret = (int)PT_REGS_RC(ctx);
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->daddr, sk, __sk_common.skc_daddr);
	} else if (bpf_core_field_exists(sk->__sk_common.skc_v6_daddr)) {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	fill_current(&e->hdr, EVENT_CONNECT, core, key.pid_tgid);
	submit(ctx, e, sizeof(*e));
	return 0;
}

SEC("kprobe/tcp_v4_connect")
int connect4_entry(struct pt_regs *ctx)
{
	return connect_entry(ctx, AF_INET);
}

SEC("kretprobe/tcp_v4_connect")
int connect4_return(struct pt_regs *ctx)
{
	return connect_return(ctx, AF_INET);
}

SEC("kprobe/tcp_v6_connect")
int connect6_entry(struct pt_regs *ctx)
{
	return connect_entry(ctx, AF_INET6);
}

SEC("kretprobe/tcp_v6_connect")
int connect6_return(struct pt_regs *ctx)
{
	return connect_return(ctx, AF_INET6);
}

/*
 * sched_switch(bool preempt, struct task_struct *prev, struct task_struct
 * *next[, unsigned int prev_state since 5.18]): args[0] and args[1] are the
 * same on every kernel. The state is read from prev itself through the
 * flavors so the same code runs before and after 5.14.
 */
SEC("raw_tracepoint/sched_switch")
int sched_switch(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct sched_event *e;
	__u64 state = 0;
	__u32 core, tgid;

	tgid = BPF_CORE_READ(prev, tgid);
	if (!wanted(tgid))
		return 0;
	e = reserve(sizeof(*e), &core);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));

	if (bpf_core_field_exists(prev->__state)) {
		unsigned int s = BPF_CORE_READ(prev, __state);

		state = s;
		core |= CORE_STATE_U32;
	} else {
		struct task_struct___pre514 *old = (void *)prev;

		if (bpf_core_field_exists(old->state)) {
			long s = BPF_CORE_READ(old, state);

			state = (__u64)s;
			core |= CORE_STATE_LONG;
		}
	}
	e->state = state;
	e->report = state & TASK_REPORT;
	e->preempt = ctx->args[0] & 0xff;

	e->hdr.kind = EVENT_SCHED;
	e->hdr.core = core;
	e->hdr.ktime = bpf_ktime_get_ns();
	e->hdr.pid = BPF_CORE_READ(prev, pid);
	e->hdr.tgid = tgid;
	BPF_CORE_READ_STR_INTO(&e->hdr.comm, prev, comm);
	submit(ctx, e, sizeof(*e));
	return 0;
}
