package report

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "read golden file (run go test -update to create it)")
	assert.Equal(t, string(want), got, "%s differs from the golden file (go test -update rewrites it); got:\n%s", path, got)
}

var runs = []struct {
	name string
	run  func() Summary
}{
	{"allpass", allPassRun},
	{"mixed", mixedRun},
	{"facts", factsRun},
}

func TestMarkdownMatchesGolden(t *testing.T) {
	for _, tc := range runs {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name+".md", Markdown(tc.run()))
		})
	}
}

func TestTerminalMatchesGolden(t *testing.T) {
	for _, tc := range runs {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name+".txt", Terminal(tc.run()))
		})
	}
}

func TestJUnitMatchesGolden(t *testing.T) {
	for _, tc := range runs {
		for _, k := range tc.run().Kernels {
			name := tc.name + "-" + kernelDirName(k.Kernel.Name) + ".junit.xml"
			t.Run(name, func(t *testing.T) {
				x, err := JUnit(k)
				require.NoError(t, err)
				golden(t, name, string(x))
			})
		}
	}
}
