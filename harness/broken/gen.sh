#!/usr/bin/env bash
# gen.sh: build the deliberately broken tracer objects from probes/bpf/tracer.c.
# Each variant removes one bpf_core_field_exists() guard, so the object reads a
# renamed kernel field unconditionally, as the tutorial the probes are modeled
# on does:
#   state: always reads task_struct___pre514.state  -> must fail to load on >= 5.14
#   start: always reads task_struct___pre55.real_start_time -> must fail on >= 5.5
# Run from this directory (go generate). Needs clang ($BPF2GO_CC, default clang) and
# llvm-strip ($BPF2GO_STRIP); libbpf's headers are the ones vendored in probes/bpf/include.
set -euo pipefail
src=../../probes/bpf/tracer.c
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# patch VARIANT 'guard of the new field' 'guard of the old field'
patch() {
	local variant=$1 new=$2 old=$3 out=$tmp/broken_$1.c
	grep -qF "$new" "$src" || { echo "gen.sh: $src has no '$new'" >&2; exit 1; }
	grep -qF "$old" "$src" || { echo "gen.sh: $src has no '$old'" >&2; exit 1; }
	sed -e "s/if (${new//\[/\\[})/if (0 \/* broken: guard removed *\/)/" \
	    -e "s/if (${old//\[/\\[})/if (1 \/* broken: unguarded old field *\/)/" "$src" >"$out"
	cmp -s "$src" "$out" && { echo "gen.sh: patch $variant changed nothing" >&2; exit 1; }
	# The prefix map keeps the random temp path out of the BTF line info, so the
	# output is reproducible.
	"${BPF2GO_CC:-clang}" -target bpfel -D__TARGET_ARCH_x86 -O2 -g -Wall -Werror -Wextra -Wno-unused-parameter \
		-fdebug-compilation-dir=. -ffile-prefix-map="$tmp"=harness/broken -ffile-prefix-map="$PWD"=harness/broken \
		-I../../probes/bpf -I../../probes/bpf/include -c "$out" -o "broken_$variant.o"
	"${BPF2GO_STRIP:-llvm-strip}" -g "broken_$variant.o"
}

patch state 'bpf_core_field_exists(prev->__state)' 'bpf_core_field_exists(old->state)'
patch start 'bpf_core_field_exists(task->start_boottime)' 'bpf_core_field_exists(old->real_start_time)'
