package gotest

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse feeds arbitrary test-binary output to the test2json parser: it
// must not panic, every test it reports has a name and a known status, and
// the counts add up.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/mixed.out"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("=== RUN   TestA\n\x16--- PASS: TestA (0.00s)\nPASS\n"))
	f.Add([]byte("=== RUN   TestA\n=== RUN   TestA/sub\npanic: boom\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		r := Parse(out)
		for _, tr := range r.Tests {
			require.NotEqual(t, "", tr.Name, "test without a name in %q", out)
			switch tr.Status {
			case "pass", "fail", "skip", "":
			default:
				require.Fail(t, fmt.Sprintf("test %q: status %q", tr.Name, tr.Status))
			}
		}
		pass, fail, skip := r.Counts()
		require.False(t, pass+fail+skip > len(r.Tests), "counts %d+%d+%d exceed %d tests", pass, fail, skip, len(r.Tests))
	})
}
