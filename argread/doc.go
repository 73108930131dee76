// Package argread finds which arguments of its traced function each kprobe,
// kretprobe, fentry and fexit program of a BPF object reads, so that the
// offline report can compare the function's parameter at that position
// across kernels (see package btfproto): a kprobe reads arguments by
// register, and a prototype that moved its parameters makes the same object
// read something else, with no CO-RE relocation failing.
//
// A read is found in three forms:
//   - a CO-RE relocation of a struct pt_regs field (x86-64: di, si, dx, cx,
//     r8, r9 for arguments 1 to 6, ax for the return value; arm64: regs[0]
//     to regs[7] of struct user_pt_regs for arguments 1 to 8, regs[0] the
//     return value in a kretprobe), as PT_REGS_PARMn and
//     PT_REGS_PARMn_CORE produce when the struct carries
//     preserve_access_index;
//   - a plain load from the context at the fixed pt_regs offsets of the
//     ptrace ABI (x86-64: di 112, si 104, dx 96, cx 88, r8 72, r9 64, ax
//     80; arm64: regs[i] at 8*i), the BPF_KPROBE / PT_REGS_PARMn form over
//     a pt_regs without CO-RE;
//   - for fentry and fexit, a load of ctx[i] (offset 8*i), or
//     bpf_get_func_arg(ctx, i, &v) with a constant i: argument i+1, and
//     for fexit the return value at the index equal to the argument count,
//     which depends on the kernel (Read.At resolves it against a prototype).
//
// The architecture is the object's: arm64 when its BTF has struct
// user_pt_regs (libbpf's arm64 PT_REGS_* macros read through it), x86-64
// otherwise. A kprobe on a syscall wrapper (__x64_sys_*, __arm64_sys_*)
// reads argument 1, the syscall's own pt_regs; the syscall's arguments
// read through that pointer are not the wrapper's and count as its use.
//
// A helper taking the context itself (bpf_get_stackid,
// bpf_perf_event_output, bpf_tail_call) reads no argument; a program that
// uses its context only that way is named in Result.ContextOnly.
//
// The reads are found by an abstract interpretation of the program's
// control-flow graph (interp.go): the context and the values read from it
// are followed through register moves, callee-saved registers across
// helper calls, stack spills and fills, and BPF-to-BPF calls (arguments
// r1-r5 into the subprogram, r0 back), including bpf_probe_read_kernel of
// &ctx->si into a stack buffer. Check runs it on the program relocated for
// each kernel: CO-RE existence checks are constants there, the branches
// they rule out are dead, and a read counts on a kernel only where its
// value reaches a use (a helper argument, a store to a map or the ring
// buffer, a dereference, a branch, the return value). A use of the context
// the analysis cannot follow (an offset computed at run time, the context
// stored to a map, passed to a kfunc) is reported as unknown, never
// dropped.
//
// It is offline analysis: it imports corerelo, btfproto and kernel (the
// identity of a kernel) and must not import kernels, vmtest or probes.
package argread
