// Package probes is the tracer corematrix proves portable: one CO-RE BPF
// object (bpf/tracer.c, compiled once by bpf2go into tracer_x86_bpfel.o) that
// loads unchanged on kernels 5.4 to 7.x, plus its Go loader and decoder.
//
// Programs and events (see Programs and the bpf/tracer.c header):
//
//	exec     tracepoint sched/sched_process_exec  -> *Exec
//	exit     kprobe do_exit                        -> *Exit
//	open     kprobe vfs_open                       -> *Open
//	connect  k(ret)probe tcp_v4_connect/tcp_v6_connect -> *Connect
//	sched    raw_tracepoint sched_switch (prev)    -> *SchedState
//
// Every event carries a Core bitmask naming the CO-RE branches its program
// took (start_boottime vs real_start_time, __state vs state, ringbuf vs
// perf); Branches returns the catalog with the kernels that take each side.
//
// Usage:
//
//	t, err := probes.Load(probes.Options{Targets: []uint32{pid}})
//	// err may be *LoadError (per-program stats, each failure; a CO-RE failure
//	// is a *COREError naming program and relocation), or wrap ErrNoBTF /
//	// ErrPrivileges.
//	defer t.Close()
//	err = t.Attach()              // all kinds, or t.Attach(probes.KindExec, ...)
//	ev, err := t.Read(ctx)        // Event: *Exec, *Exit, *Open, *Connect, *SchedState
//	var r probes.Record
//	err = t.ReadInto(ctx, &r)     // zero-allocation variant; r.Event(), r.Kind
//	st, err := t.Stats()          // ring buffer drops, perf lost samples, ...
//	stats := t.Programs()         // verifier-processed insns and load time per program
//
// Output goes to a ring buffer (kernel 5.8+) or, below that or with
// Options.ForcePerf, to a perf event array: SetOutput rewrites a spec the
// same way Load does. Spec and Object expose the embedded object; Decode
// parses raw records without allocating.
//
// Loading needs BTF (/sys/kernel/btf/vmlinux or Options.KernelTypes) and
// root or CAP_BPF+CAP_PERFMON; memlock is raised for kernels before 5.11.
package probes
