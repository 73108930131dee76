#!/usr/bin/env bash
# generate-check: regenerate every committed BPF object (the bpf2go output of
# probes/, the deliberately broken tracer builds of harness/broken and the
# CO-RE test objects of corereport and argread) in a scratch copy of the tree and
# fail on any difference from what is committed. Run from the repository root
# (make generate-check).
#
# The object depends on the compiler: it is built with clang and llvm-strip of
# the major version in probes/bpf/CLANG_VERSION (libbpf's headers are vendored
# in probes/bpf/include). This script uses clang-<version> and
# llvm-strip-<version> when installed, else clang and llvm-strip when they are
# that version, and otherwise stops with exit code 2 saying what to install.
set -euo pipefail

root=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
cd "$root"

want=$(tr -d '[:space:]' < probes/bpf/CLANG_VERSION)

major() { "$1" --version 2>/dev/null | sed -n 's/.*version \([0-9][0-9]*\)\..*/\1/p' | head -1; }

pick() { # pick TOOL: print the binary of TOOL with major version $want
	local tool=$1
	if command -v "$tool-$want" >/dev/null; then
		echo "$tool-$want"
	elif command -v "$tool" >/dev/null && [ "$(major "$tool")" = "$want" ]; then
		echo "$tool"
	else
		echo "generate-check: need $tool $want (the committed object was built with it; see probes/bpf/CLANG_VERSION)." >&2
		echo "  install it (Debian/Ubuntu: apt-get install clang-$want llvm-$want), or regenerate with your" >&2
		echo "  toolchain (make generate), commit the object and update probes/bpf/CLANG_VERSION" >&2
		return 1
	fi
}
BPF2GO_CC=$(pick clang) || exit 2
BPF2GO_STRIP=$(pick llvm-strip) || exit 2
export BPF2GO_CC BPF2GO_STRIP
echo "generate-check: regenerating with $BPF2GO_CC and $BPF2GO_STRIP"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# Every tracked file, in the same relative layout, with the generated outputs
# removed; then go generate everything that has a directive. A generated file
# must come out byte-identical to the committed one.
git ls-files -z | xargs -0 cp --parents -t "$scratch"
generated=$(git ls-files 'probes/*_bpfel.go' 'probes/*_bpfel.o' 'harness/broken/*.o' 'corereport/testdata/*.o' 'argread/testdata/*.o' 'argread/helpers_gen.go')
(cd "$scratch" && rm -f $generated && go generate ./probes/... ./harness/broken/... ./corereport/... ./argread/...)

status=0
for rel in $generated; do
	if [ ! -f "$scratch/$rel" ]; then
		echo "generate-check: $rel is committed but no longer generated" >&2
		status=1
	elif ! cmp -s "$scratch/$rel" "$rel"; then
		echo "generate-check: $rel differs from a fresh go generate" >&2
		case "$rel" in
		*.go) diff -u "$rel" "$scratch/$rel" | head -40 >&2 || true ;;
		esac
		status=1
	fi
done
for f in "$scratch"/probes/*_bpfel.go "$scratch"/probes/*_bpfel.o "$scratch"/harness/broken/*.o "$scratch"/argread/testdata/*.o; do
	rel=${f#"$scratch"/}
	[ -f "$rel" ] || { echo "generate-check: $rel is generated but not committed" >&2; status=1; }
done
if [ "$status" -eq 0 ]; then
	echo "generate-check: generated BPF output is up to date ($(echo "$generated" | wc -l) files)"
fi
exit "$status"
