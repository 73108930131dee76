package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
)

// FuzzLoad decodes arbitrary bytes as a results.json and as a summary.json,
// as Load does after reading the file: no panic, and whatever is accepted
// renders to Markdown with no injected heading and to a terminal table
// without control characters.
func FuzzLoad(f *testing.F) {
	good, _ := json.Marshal(KernelResult{Kernel: kernel.Kernel{Name: "6.1", Version: "6.1.176"}, Outcome: Fail, Reason: "x",
		Tests: []TestResult{{Name: "TestA", Status: "fail", Output: "boom\n"}}})
	f.Add(good)
	f.Add([]byte(`{"kernel":{"name":"6.1|x"},"outcome":"pass\n## hi"}`))
	f.Add([]byte(`{"kernels":[{"kernel":{"name":"a"},"outcome":"skip"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Summary
		var k KernelResult
		switch {
		case decodeReport(SummaryJSON, data, &s) == nil && len(s.Kernels) > 0:
		case decodeReport(ResultsFile, data, &k) == nil:
			s = Summary{Kernels: []KernelResult{k}}
		default:
			return
		}
		for _, k := range s.Kernels {
			require.True(t, validOutcome(k.Outcome), "loaded unknown outcome %q", k.Outcome)
		}
		fence := ""
		for l := range strings.SplitSeq(Markdown(s), "\n") {
			if fence == "" && strings.HasPrefix(l, "```") {
				fence = l // fences are backticks only
				continue
			}
			if fence != "" {
				if l == fence {
					fence = ""
				}
				continue
			}
			require.False(t, strings.HasPrefix(l, "## ") && !strings.HasPrefix(l, "## corematrix: "), "injected heading %q", l)
		}
		for _, r := range Terminal(s) {
			require.False(t, r < 0x20 && r != '\n' && r != '\t', "terminal output keeps control character %U", r)
			require.NotEqual(t, 0x7f, r, "terminal output keeps control character %U", r)
		}
	})
}
