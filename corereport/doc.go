// Package corereport is offline analysis: it resolves the CO-RE relocations
// of a BPF object against kernels' BTF without booting anything, and tells
// which programs would load. It owns the relocation x kernel matrix, its
// renderings (table, markdown, JSON), the load prediction and the on-disk
// cache of kernel BTF.
//
// For every program corerelo.Apply resolves each CO-RE relocation against
// one kernel's BTF (as cilium/ebpf does at load time) and reads the outcome
// back from the rewritten instructions: an offset, a size, an existence bit,
// or poison (the instruction replaced by "call 0xbad2310"). A poisoned
// instruction the verifier can reach fails the load with "bad CO-RE
// relocation"; one that only sits behind a CO-RE existence check that is
// false on that kernel is dead code and loads fine (corerelo.Reachable).
//
// Beyond CO-RE, the kernel's BTF also shows the helpers, program, attach and
// map types, kfuncs and attach targets it has (see features.go): each becomes
// a Finding of the program, and the program's Verdict is the worst of them
// (fails, else unknown, else loads). Verifier limits and anything else BTF
// does not show are not predicted.
//
// Across kernels, CheckArgs compares the arguments each kprobe, kretprobe,
// fentry and fexit program reads (package argread) with its target's
// prototype on every kernel (package btfproto): a position whose type
// changes is drift, reported with the prototypes (Matrix.Args, the Args
// section of every rendering, and Diff).
//
// It must not import kernels, kernels/cache or vmtest (the booting side);
// it may import kernels/kallsyms, a leaf package, for its Funcs data type:
// kernel images and their BTF come in as inputs (BTFCache's functions, BTF
// specs), and cmd/vmtest wires them. It may import report for the
// report's data model (report.Prediction).
package corereport
