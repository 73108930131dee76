#!/usr/bin/env bash
# bite.sh: show that the suite bites. Builds harness.test with a broken tracer
# object in place of the real one (in a scratch copy of the tree) and runs the
# whole suite on a matrix. Expected: kernels that have what the variant needs
# (the old field, the helper, kfunc or kprobe target) pass, the others fail.
#
#   harness/broken/bite.sh state 5.10,6.1,6.12   # 5.10 passes, 6.1 and 6.12 fail
#   harness/broken/bite.sh start 5.10,6.1,6.12   # all fail (every one is >= 5.5)
#   harness/broken/bite.sh loop 5.10,6.1          # 5.10 fails (no bpf_loop), 6.1 passes
#
# Variants: state start task_btf loop kern_ctx kprobe_target (see broken.go).
# Run from the repository root. VMTEST (default: bin/vmtest) is the runner.
set -euo pipefail
variant=${1:?usage: bite.sh VARIANT KERNELS}
kernels=${2:?usage: bite.sh VARIANT KERNELS}
obj=harness/broken/broken_$variant.o
[ -f "$obj" ] || { echo "bite.sh: no $obj" >&2; exit 2; }
vmtest=${VMTEST:-bin/vmtest}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git ls-files -z | tar --null -T - -cf - | tar -C "$scratch" -xf -
cp "$obj" "$scratch/probes/tracer_x86_bpfel.o"
out=$PWD/bin/harness-broken-$variant.test
mkdir -p bin
(cd "$scratch" && CGO_ENABLED=0 go test -c -o "$out" ./harness)
exec "$vmtest" run --kernels "$kernels" --report "vmtest-report-broken-$variant" -- "$out" -test.v
