package probes

// The BPF object is compiled once, for little-endian x86-64 (-target amd64
// gives tracer_x86_bpfel.{go,o}); the output is committed so that building Go
// needs no clang. `make generate` reruns this; `make generate-check` proves the
// committed files match the sources. The committed object was built with
// Debian bookworm's clang 14 and llvm-strip 14; another clang version emits a
// different (equally valid) object, so generate-check must run with the same
// toolchain. $BPF2GO_CC and $BPF2GO_STRIP select other binaries.
//
//go:generate go tool bpf2go -target amd64 -cflags "-O2 -g -Wall -Werror -Wextra -Wno-unused-parameter" -type event_header -type exec_event -type exit_event -type open_event -type connect_event -type sched_event tracer bpf/tracer.c -- -I./bpf
