#!/usr/bin/env bash
# Run every Go fuzz target (func FuzzX in *_test.go) for FUZZTIME each.
# `make test` replays only the seed corpora (f.Add and testdata/fuzz); this
# searches for new inputs. A failing input is written to the package's
# testdata/fuzz/FuzzX/ directory: commit it as a regression seed.
set -euo pipefail
FUZZTIME=${FUZZTIME:-30s}
GO=${GO:-go}
status=0
while IFS=: read -r file target; do
	pkg=./$(dirname "$file")
	echo "== $pkg $target ($FUZZTIME)"
	if ! "$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"; then
		status=1
	fi
done < <(grep -rHo --include='*_test.go' --exclude-dir=.git -e '^func Fuzz[A-Za-z0-9_]*' . | sed 's|^\./||; s/func //' | sort)
exit $status
