package report

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func results(pairs ...string) []TestResult {
	var out []TestResult
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, TestResult{Name: pairs[i], Status: pairs[i+1]})
	}
	return out
}

// cilium/ebpf's features tests name subtests "Kprobe/FnSysBpf": the parent
// of TestHaveProgramHelper/Kprobe/FnSysBpf is TestHaveProgramHelper, and no
// test is named TestHaveProgramHelper/Kprobe.
func TestCountTestsSubtestNamesWithSlashes(t *testing.T) {
	tests := results(
		"TestHaveProgramHelper", "fail",
		"TestHaveProgramHelper/Kprobe/FnSysBpf", "fail",
		"TestHaveProgramHelper/Kprobe/FnMapLookupElem", "pass",
		"TestHaveProgramHelper/XDP/FnSysBpf", "skip",
		"TestPlain", "pass",
		"TestPlain-like", "pass", // '-' sorts before '/': not a subtest of TestPlain
		"TestPlain.x", "skip",
	)
	pass, fail, skip := CountTests(tests)
	assert.Equal(t, []int{3, 1, 2}, []int{pass, fail, skip})
	assert.Equal(t, map[string]bool{"TestHaveProgramHelper": true}, HasSubtests(tests))
}

func TestCountTestsNested(t *testing.T) {
	tests := results(
		"TestA", "fail",
		"TestA/b", "fail",
		"TestA/b/c", "fail",
		"TestA/b/d", "pass",
		"TestA/e", "pass",
		"TestB", "skip",
	)
	pass, fail, skip := CountTests(tests)
	assert.Equal(t, []int{2, 1, 1}, []int{pass, fail, skip})
	assert.Equal(t, map[string]bool{"TestA": true, "TestA/b": true}, HasSubtests(tests))
}

// The names come from the guest: one name of a million slashes beside its
// own prefixes must not cost a hash of every prefix.
func TestHasSubtestsHostileNamesLinear(t *testing.T) {
	long := strings.Repeat("a/", 1<<19)
	tests := results("T", "pass", "T/"+long, "pass", "T/"+long+"x", "fail")
	start := time.Now()
	parents := HasSubtests(tests)
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("HasSubtests took %s on 1 MiB names", d)
	}
	assert.True(t, parents["T"])
	assert.Len(t, parents, 1)
}
