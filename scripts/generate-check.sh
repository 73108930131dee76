#!/usr/bin/env bash
# generate-check: regenerate the bpf2go output of probes/ in a scratch copy of
# the sources and fail on any difference from what is committed. Run from the
# repository root (make generate-check). Needs clang, llvm-strip and the
# libbpf headers (make deps).
set -euo pipefail

root=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
cd "$root"

for tool in clang llvm-strip; do
	command -v "$tool" >/dev/null || { echo "generate-check: $tool not found (run make deps)" >&2; exit 2; }
done
[ -f /usr/include/bpf/bpf_helpers.h ] || { echo "generate-check: libbpf headers missing (run make deps)" >&2; exit 2; }

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
