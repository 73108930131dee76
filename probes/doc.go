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
//
// # Adding an event
//
// The C side is the source of truth: enum event_kind and enum core_bit in
// bpf/events.h reach Go as bpf2go constants (KindExec is
// Kind(tracerEventKindEVENT_EXEC)), and TestRegistryMatchesObject reads the
// compiled object's BTF and ELF and fails when enum event_kind, union
// any_event, the object's programs, enum core_bit and the Go tables
// (registry.go, programTable, the Branch catalog) disagree. Every touch
// point, for an event "unlink" from a kprobe on vfs_unlink:
//
//  1. bpf/events.h: EVENT_UNLINK in enum event_kind; struct unlink_event
//     starting with struct event_header hdr, naturally aligned, padding
//     spelled out as _pad fields.
//  2. bpf/tracer.c: the member "unlink" of union any_event (it sizes the
//     perf scratch buffer), the program (SEC("kprobe/vfs_unlink")), and the
//     program list in the file comment. The program calls fill_current (or
//     fills the header itself) with EVENT_UNLINK.
//  3. gen.go: -type unlink_event, so that tests can encode records with the
//     generated tracerUnlinkEvent.
//  4. make generate, then commit everything it rewrote: tracer_x86_bpfel.go
//     and .o here, and also harness/broken/*.o, which gen.sh builds by
//     patching bpf/tracer.c (and vmtest's CO-RE test objects). A new header
//     under bpf/ must be git-added before make generate-check, which
//     regenerates from tracked files only. Never hand-merge generated files
//     after a rebase: regenerate.
//  5. event.go: KindUnlink = Kind(tracerEventKindEVENT_UNLINK) and the Go
//     event type (embedding Header, with a String method).
//  6. decode.go: unlinkSize, the Record member Unlink and decodeUnlink
//     (offsets as in events.h).
//  7. registry.go: one entry line: kind, name (equal to the union member),
//     C struct, size, Record member, decoder.
//  8. tracer.go: a programTable row per program (attach type and target,
//     equal to the ELF section).
//  9. decode_test.go: a roundTrips row (TestRoundTripsCoverRegistry
//     insists) and a TestLayout row (TestLayout insists too); doc.go's
//     program list above; README where users see event names.
//  10. bpf/vmlinux_min.h: every kernel type and field the program touches
//     (struct inode, struct dentry, ...), each with preserve_access_index;
//     flavor structs for renamed fields.
//  11. cmd/tracer/print.go: a case in details for the Go event type
//     (TestDetailsCoverEveryKind fails without it); the -events help lists
//     the registry's names by itself.
//  12. argread/argread_test.go: the program's argument reads in
//     TestTracerReads (program, attach, target, argument, via), and
//     TestCheckProbes must still find every read stable: run
//     vmtest core-report --kernels 5.10,6.1,6.12,latest first.
//  13. harness: a ground-truth workload (harness/ground children are
//     composed from steps; see ground.Program) and a test comparing what
//     the event reports with it, in every kernel of the matrix.
//
// Tests that need a kind the registry lacks (registry_test.go's mismatch
// table) make one up past the last real kind (cm_fake), never the example
// above; tests that list every kind take probes.AllKinds.
//
// A kprobe reads its target's arguments by position, and positions move
// between kernels (vfs_unlink gained a leading mnt_userns argument in 5.12,
// so PT_REGS_PARM2 is the parent directory there, not the dentry). Before
// choosing PT_REGS_PARMn, compare the prototypes (vmtest kernels btf
// --kernels 5.10,6.1,latest vfs_unlink); vmtest core-report flags
// argument drift of every kprobe, kretprobe, fentry and fexit program,
// wherever the program keeps the context (a callee-saved register or the
// stack across helper calls, a static __noinline subprogram), on the
// program as relocated for each kernel.
// Where the position moved, let a CO-RE check pick the argument (for
// example bpf_core_type_exists of a type only the newer kernels have) and
// put barrier_var() on the register value of each side: clang otherwise
// merges the two context loads (ctx->si, ctx->dx) into one load at a
// computed offset, which the verifier rejects as an access through a
// modified context pointer.
//
// A new CO-RE branch touches five places: a CORE_* bit in enum core_bit
// (bpf/events.h), the guarded branch in bpf/tracer.c that sets it, the
// Core constant and Branch row (with the kernels that take it) in
// branches.go, the expectation in harness/ground (Expect, ExpectFromVersion
// and ExpectFromBTF), and, to prove the suite catches the unguarded
// mistake, a variant in harness/broken/gen.sh. TestRegistryMatchesObject
// checks the first three against each other.
//
// It knows nothing of VMs: it imports corerelo (to name the CO-RE relocation
// behind a failed load) and must not import vmtest, kernels, corereport or
// harness.
package probes
