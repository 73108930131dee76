package probes

// The BPF object is compiled once, for little-endian x86-64 (-target amd64
// gives tracer_x86_bpfel.{go,o}); the output is committed so that building Go
// needs no clang. `make generate` reruns this; `make generate-check` proves the
// committed files match the sources.
//
//go:generate go tool bpf2go -target amd64 -cc clang -strip llvm-strip -cflags "-O2 -g -Wall -Werror -Wextra -Wno-unused-parameter" -type event_header -type exec_event -type exit_event -type open_event -type connect_event -type sched_event tracer bpf/tracer.c -- -I./bpf
