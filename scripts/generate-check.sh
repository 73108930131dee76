#!/usr/bin/env bash
# generate-check: regenerate the bpf2go output of probes/ in a scratch copy of
# the sources and fail on any difference from what is committed. Run from the
# repository root (make generate-check).
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

# The module root files and probes/ are all go generate needs; the scratch copy
# has the same relative layout, so the generated files must be byte-identical.
cp go.mod go.sum "$scratch"/
mkdir -p "$scratch/probes"
cp -r probes/. "$scratch/probes/"
rm -f "$scratch"/probes/*_bpfel.go "$scratch"/probes/*_bpfel.o

(cd "$scratch" && go generate ./probes/...)

status=0
for f in "$scratch"/probes/*_bpfel.go "$scratch"/probes/*_bpfel.o; do
	rel=probes/$(basename "$f")
	if [ ! -f "$rel" ]; then
		echo "generate-check: $rel is generated but not committed" >&2
		status=1
	elif ! cmp -s "$f" "$rel"; then
		echo "generate-check: $rel differs from a fresh go generate" >&2
		case "$rel" in
		*.go) diff -u "$rel" "$f" | head -40 >&2 || true ;;
		esac
		status=1
	fi
done
for f in probes/*_bpfel.go probes/*_bpfel.o; do
	[ -f "$scratch/$f" ] || { echo "generate-check: $f is committed but no longer generated" >&2; status=1; }
done
if [ "$status" -eq 0 ]; then
	echo "generate-check: probes/ generated output is up to date"
fi
exit "$status"
