#!/usr/bin/env bash
# Dogfood: the probes' tests run inside a real kernel through
# `go test -exec 'vmtest exec'`, where the live tests (BPF loads, attaches, the
# synthetic-BTF real_start_time flavour) run instead of skipping. A skip there
# is a failure, as is a missing live test.
#
#   bash scripts/probes-vm.sh     (PROBES_KERNEL=6.1, BIN=bin; make build first)
set -euo pipefail
cd "$(dirname "$0")/.."

kernel=${PROBES_KERNEL:-6.1}
vmtest=$(realpath "${BIN:-bin}/vmtest")
out=$(mktemp)
trap 'rm -f "$out"' EXIT

rc=0
CGO_ENABLED=0 go test -count=1 -json -exec "$vmtest exec --kernel $kernel" ./probes > "$out" || rc=$?

# The output of the failed tests (or of everything when none is named), for
# the log when something is wrong.
show() {
	local failed
	failed=$(grep '"Action":"fail"' "$out" | grep -o '"Test":"[^"]*"' | sort -u || true)
	if [ -z "$failed" ]; then failed='"Package":'; fi
	grep -F "$failed" "$out" | sed -n 's/.*"Output":"\(.*\)"}$/\1/p' | while IFS= read -r l; do printf '%b' "$l"; done
}

if [ "$rc" -ne 0 ]; then
	show
	echo "probes-vm: go test -exec 'vmtest exec --kernel $kernel' ./probes failed (exit $rc)"
	exit 1
fi
skipped=$(grep '"Action":"skip"' "$out" | grep -o '"Test":"[^"]*"' | sort -u || true)
if [ -n "$skipped" ]; then
	show
	echo "probes-vm: tests skipped inside kernel $kernel, where they must run:"
	echo "$skipped"
	exit 1
fi
for t in TestLoadAllPrograms TestSchedSwitchLive 'TestOldKernelFlavorsLive/exec_real_start_time' TestEmbeddedMatchesCommitted; do
	if ! grep -q "\"Action\":\"pass\".*\"Test\":\"$t\"" "$out"; then
		show
		echo "probes-vm: $t did not pass inside kernel $kernel"
		exit 1
	fi
done
echo "probes-vm: $(grep -c '"Action":"pass".*"Test":' "$out") tests passed inside kernel $kernel, none skipped"
