package probes

// The BPF object is compiled once per architecture, for little-endian
// x86-64 and arm64 (-target amd64,arm64 gives tracer_x86_bpfel.{go,o} and
// tracer_arm64_bpfel.{go,o}: bpf2go defines __TARGET_ARCH_x86 or
// __TARGET_ARCH_arm64, so libbpf's PT_REGS_* macros read each architecture's
// registers); the output is committed so that building Go needs no clang. `make generate` reruns this; `make generate-check` proves the
// committed files match the sources. libbpf's helper headers are vendored in
// bpf/include (libbpf 1.1.2) so the object does not depend on the installed
// libbpf. The object was built with clang and llvm-strip of the major version
// in bpf/CLANG_VERSION (Debian bookworm's 14); another clang emits a
// different, equally valid object, so scripts/generate-check.sh uses
// clang-<version> when the default clang is another one. $BPF2GO_CC and
// $BPF2GO_STRIP select the binaries.
//
//go:generate go tool bpf2go -target amd64,arm64 -cflags "-O2 -g -Wall -Werror -Wextra -Wno-unused-parameter" -type event_kind -type core_bit -type exec_flag -type event_header -type exec_event -type exit_event -type open_event -type connect_event -type sched_event tracer bpf/tracer.c -- -I./bpf -I./bpf/include
