// Package corerelo owns what CO-RE does to one BPF program on one kernel,
// computed offline: it describes a relocation in the object's own terms
// (Describe), applies every relocation of a program against a kernel's BTF as
// cilium/ebpf does at load time (Apply), tells a poisoned instruction by
// btf.COREBadRelocationSentinel after relocation (IsPoisoned), decides which
// instructions the verifier can reach (Reachable), and recognises cilium/ebpf's
// "bad CO-RE relocation" load error (IsBadRelocation).
//
// Both the tracer (probes, to name the relocation behind a failed load) and the
// offline report (corereport) use it, so a relocation reads the same in both
// and a cilium/ebpf upgrade that changes a relocation's text form breaks here,
// in one place, under test.
//
// It imports only cilium/ebpf: it must not import any corematrix package, and
// it needs no kernel (nothing here loads a program).
package corerelo
