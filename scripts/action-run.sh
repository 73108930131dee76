#!/usr/bin/env bash
# The run step of the composite action (action.yml): runs each test package, or
# the payload, in every kernel of $KERNELS with `vmtest exec --kernels`, one
# report directory per package; vmtest appends each summary.md to the job
# summary ($GITHUB_STEP_SUMMARY), under a heading naming the package.
# Exits non-zero when any package failed on any kernel.
#
#   VMTEST KERNELS PACKAGES|PAYLOAD TEST_FLAGS JOBS TIMEOUT REPORT   (from action.yml)
set -uo pipefail

if [ -n "$PACKAGES" ] && [ -n "$PAYLOAD" ]; then
	echo "::error::set either packages or payload, not both"
	exit 2
fi
if [ -z "$PACKAGES" ] && [ -z "$PAYLOAD" ]; then
	echo "::error::set packages (go test patterns) or payload (a static binary)"
	exit 2
fi

flags=(--kernels "$KERNELS" --timeout "$TIMEOUT")
if [ -n "$JOBS" ]; then flags+=(--jobs "$JOBS"); fi
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
mkdir -p "$REPORT"
failed=0

# run NAME DIR -- BINARY ARGS...: one vmtest exec over all kernels.
run() {
	local name=$1 dir=$2
	shift 3
	local out="$REPORT/${name//\//_}"
	echo "### $name" >> "$summary"
	echo "::group::$name"
	"$VMTEST" exec "${flags[@]}" --report "$out" --workdir "$dir" -- "$@"
	local rc=$?
	echo "::endgroup::"
	if [ "$rc" -ne 0 ]; then
		failed=1
		echo "::error::$name failed on at least one kernel (exit $rc)"
	fi
	if [ ! -f "$out/summary.md" ]; then
		echo "no report (exit $rc)" >> "$summary"
	fi
}

if [ -n "$PAYLOAD" ]; then
	read -r -a payload <<< "$PAYLOAD"
	run "${payload[0]##*/}" "$PWD" -- "${payload[@]}"
	exit "$failed"
fi

read -r -a patterns <<< "$PACKAGES"
read -r -a testflags <<< "$TEST_FLAGS"
bins=$(mktemp -d)
while IFS=' ' read -r pkg dir; do
	bin="$bins/${pkg//\//_}.test"
	if ! go test -c -o "$bin" "$pkg"; then
		failed=1
		echo "::error::$pkg does not build"
		continue
	fi
	if [ ! -f "$bin" ]; then
		continue # no test files
	fi
	# Kernels of the other architecture (6.1/arm64 on an x86 runner) run the
	# package's build for theirs, which vmtest finds as linux-ARCH/NAME.
	for arch in amd64 arm64; do
		if [ "$arch" != "$(go env GOARCH)" ] && [[ ",$KERNELS," == *"/$arch,"* ]]; then
			mkdir -p "$bins/linux-$arch"
			if ! GOARCH=$arch go test -c -o "$bins/linux-$arch/${bin##*/}" "$pkg"; then
				failed=1
				echo "::error::$pkg does not build for $arch"
			fi
		fi
	done
	run "$pkg" "$dir" -- "$bin" "${testflags[@]}"
done < <(go list -f '{{.ImportPath}} {{.Dir}}' "${patterns[@]}")
exit "$failed"
