// Package probes is the tracer corematrix proves portable: one CO-RE BPF
// object (bpf/tracer.c, compiled once by bpf2go into tracer_x86_bpfel.o) that
// loads unchanged on kernels 5.4 to 7.x, plus its Go loader and decoder.
//
// Programs and events (Programs lists them with their attach points):
//
//	exec     tracepoint sched/sched_process_exec          -> *Exec
//	exit     kprobe do_exit                                -> *Exit
//	open     kprobe vfs_open                               -> *Open
//	connect  kprobe+kretprobe tcp_v4_connect/tcp_v6_connect -> *Connect
//	sched    raw_tracepoint sched_switch (prev task)       -> *SchedState
//
// Every event carries a Core bitmask naming the CO-RE branches its program
// took: start_boottime (5.5+) or real_start_time, __state (5.14+) or state,
// ringbuf (5.8+) or perf. Branches returns that catalog with the kernels that
// take each side.
//
// Usage:
//
//	t, err := probes.Load(probes.Options{Targets: []uint32{pid}})
//	// err may be a *LoadError (Programs: per-program stats; Err: each
//	// failure, a CO-RE one as *COREError naming program and relocation),
//	// or wrap ErrNoBTF / ErrPrivileges.
//	defer t.Close()
//	err = t.Attach()              // every kind, or t.Attach(probes.KindExec, ...);
//	                              // failures are *AttachError in a multierror
//	ev, err := t.Read(ctx)        // *Exec, *Exit, *Open, *Connect or *SchedState;
//	                              // ctx.Err() when ctx ends, ErrClosed after Close
//	var r probes.Record
//	err = t.ReadInto(ctx, &r)     // zero-allocation variant: r.Kind, r.Event(), r.Exec...
//	st, err := t.Stats()          // ringbuf reserve failures, perf lost samples, ...
//	ps := t.Programs()            // verifier-processed insns, load time per program
//	t.AddTargets(tgid)            // with Options.Targets or Options.Filter set
//
// Options.ForcePerf uses the perf event array where the ring buffer exists;
// Options.KernelTypes relocates against external BTF; RingBufferSize and
// PerfBufferSize size the buffers. SetOutput applies the same ringbuf/perf
// rewrite to a spec; Spec and Object expose the embedded object; Decode
// parses raw records without allocating.
//
// Loading needs BTF (/sys/kernel/btf/vmlinux or Options.KernelTypes) and
// root or CAP_BPF+CAP_PERFMON; memlock is raised for kernels before 5.11.
// Attaching the exec tracepoint needs tracefs, which Attach mounts when no
// tracefs or debugfs is mounted (EnsureTracefs); kprobes need CONFIG_KPROBES.
package probes
