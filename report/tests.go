package report

import (
	"sort"
	"strings"
)

// HasSubtests returns the names among tests that have a subtest among
// tests, at any depth. A subtest's own name may hold a slash
// (t.Run("Kprobe/FnSysBpf") under TestHelper is TestHelper/Kprobe/FnSysBpf,
// with no TestHelper/Kprobe), so the nearest test whose name is a prefix
// ending at a slash is its parent, not the name up to the last slash.
//
// The names come from the guest: sorting them with '/' ordered before
// every other byte puts each test's descendants right after it, so this
// takes O(S log n) for names of total length S, however many slashes a
// name holds.
func HasSubtests(tests []TestResult) map[string]bool {
	keys := make([]string, 0, len(tests))
	for _, t := range tests {
		keys = append(keys, strings.ReplaceAll(t.Name, "/", "\x00"))
	}
	sort.Strings(keys)
	parents := map[string]bool{}
	for i := 0; i+1 < len(keys); i++ {
		next := keys[i+1]
		if len(next) > len(keys[i]) && next[len(keys[i])] == 0 && strings.HasPrefix(next, keys[i]) {
			parents[strings.ReplaceAll(keys[i], "\x00", "/")] = true
		}
	}
	return parents
}

// CountTests returns how many tests passed, failed and skipped, counting
// each test that has no subtests (a test with subtests is counted through
// them). A status other than pass or skip counts as a failure.
func CountTests(tests []TestResult) (pass, fail, skip int) {
	parents := HasSubtests(tests)
	for _, t := range tests {
		if parents[t.Name] {
			continue
		}
		switch t.Status {
		case "pass":
			pass++
		case "skip":
			skip++
		default:
			fail++
		}
	}
	return pass, fail, skip
}
