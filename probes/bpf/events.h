/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * events.h: the records the tracer sends to user space. The Go decoder in
 * probes/decode.go reads these layouts by offset; TestLayout and
 * TestDecodeRoundTrip (probes/decode_test.go) check the offsets against the
 * bpf2go-generated Go types of this file, and TestRegistryMatchesObject
 * (probes/registry_test.go) checks enum event_kind, enum core_bit and the
 * union any_event of tracer.c against the Go registry. The enums are the
 * types of header fields so that they reach the object's BTF (bpf2go renders
 * them as Go constants). Adding an event: see the checklist in probes/doc.go.
 * Little-endian, naturally aligned, no implicit padding.
 */
#ifndef __CM_EVENTS_H
#define __CM_EVENTS_H

#define COMM_LEN 16
#define NAME_LEN 256

/* Maximum number of real_parent hops the exec program follows. */
#define MAX_ANCESTRY 32

enum event_kind {
	EVENT_EXEC = 1,
	EVENT_EXIT = 2,
	EVENT_OPEN = 3,
	EVENT_CONNECT = 4,
	EVENT_SCHED = 5,
};

/*
 * Bits of event_header.core: the CO-RE branch that produced the event's
 * fields. Each group has one bit per side; an event sets the bits of the
 * groups its program evaluated.
 */
enum core_bit {
	CORE_START_BOOTTIME = 1 << 0,  /* task_struct.start_boottime (5.5+) */
	CORE_REAL_START_TIME = 1 << 1, /* task_struct.real_start_time (< 5.5) */
	CORE_STATE_U32 = 1 << 2,       /* task_struct.__state (5.14+) */
	CORE_STATE_LONG = 1 << 3,      /* task_struct.state (< 5.14) */
	CORE_RINGBUF = 1 << 4,         /* BPF ring buffer (5.8+) */
	CORE_PERFBUF = 1 << 5,         /* perf event array (any, or forced) */
};

/* exec_event.flags */
enum exec_flag {
	EXEC_DEPTH_TRUNCATED = 1 << 0, /* MAX_ANCESTRY hops did not reach the root */
};

struct event_header {
	enum event_kind kind; /* 4 bytes, as every enum here */
	enum core_bit core;   /* a mask of core_bit values */
	__u64 ktime;          /* bpf_ktime_get_ns(), CLOCK_MONOTONIC */
	__u32 pid;            /* thread id */
	__u32 tgid;           /* process id */
	char comm[COMM_LEN];
};

struct exec_event {
	struct event_header hdr;
	__u32 ppid; /* real_parent->tgid */
	__u32 uid;  /* cred->uid (real) */
	__u32 gid;  /* cred->gid (real) */
	__u32 depth;
	__u64 start_ns; /* start_boottime / real_start_time, ns since boot */
	enum exec_flag flags; /* a mask of exec_flag values */
	__u32 _pad;
	char parent_comm[COMM_LEN];
	char filename[NAME_LEN];
};

struct exit_event {
	struct event_header hdr;
	__s64 code; /* do_exit() argument */
};

struct open_event {
	struct event_header hdr;
	__u64 ino;
	char name[NAME_LEN]; /* dentry name: the last path component */
};

struct connect_event {
	struct event_header hdr;
	__u16 family; /* AF_INET or AF_INET6: which function was probed */
	__u16 sport;  /* host byte order */
	__u16 dport;  /* host byte order */
	__u16 _pad;
	__s32 ret; /* tcp_v*_connect() return value */
	__u32 _pad2;
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
};

struct sched_event {
	struct event_header hdr;
	__u64 state;   /* prev task state, widened to 64 bits */
	__u32 report;  /* state & TASK_REPORT */
	__u32 preempt; /* sched_switch "preempt" argument */
};

#endif /* __CM_EVENTS_H */
