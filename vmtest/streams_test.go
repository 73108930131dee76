package vmtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/vmtest/wire"
)

// TestWriteStreams writes output.log and dmesg.log from recorded result
// streams: the payload's bytes only, a Go test's as -test.v prints them.
func TestWriteStreams(t *testing.T) {
	for _, tt := range []struct {
		dir    string
		goTest bool
		output string // a line of output.log
	}{
		{"clean", false, "cwd /tmp\r\nno newline at end"},
		{"gotest", true, "--- FAIL: TestFails"},
		{"oom", false, "fault payload: oom\n"},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tt.dir, ResultsFile))
			require.NoError(t, err)
			dir := t.TempDir()
			require.NoError(t, writeStreams(dir, wire.Parse(raw), tt.goTest))
			out, err := os.ReadFile(filepath.Join(dir, OutputFile))
			require.NoError(t, err)
			require.Contains(t, string(out), tt.output)
			require.NotContains(t, string(out), "corematrix-init", "no protocol lines")
			require.NotContains(t, string(out), "\x16", "no test2json markers")
			require.NotContains(t, string(out), "Linux version", "no kernel log")
			dmesg, err := os.ReadFile(filepath.Join(dir, DmesgFile))
			require.NoError(t, err)
			require.Contains(t, string(dmesg), "Linux version")
			require.NotContains(t, string(dmesg), "corematrix-init")
		})
	}
}
