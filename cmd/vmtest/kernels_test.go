package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// runKernels runs `vmtest kernels ARGS...` and returns its exit code and what it printed.
func runKernels(t *testing.T, args ...string) (int, string) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	oldErr, oldOut := os.Stderr, os.Stdout
	os.Stderr, os.Stdout = f, f
	code := exitCode(f, "vmtest kernels", kernelsCmd(context.Background(), args))
	os.Stderr, os.Stdout = oldErr, oldOut
	f.Close()
	out, _ := os.ReadFile(f.Name())
	return code, string(out)
}

func TestKernelsCommandExitCodes(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", nil, exitUsage, "missing subcommand"},
		{"help", []string{"help"}, exitOK, "subcommands:"},
		{"unknown subcommand", []string{"frob"}, exitUsage, `unknown subcommand "frob"`},
		{"bad name", []string{"fetch", "6.1,six"}, exitUsage, `kernel "six"`},
		{"unavailable offline", []string{"fetch", "--offline", "--lock", "none", "--cache-dir", empty, "5.4"}, exitInfra, "kernel 5.4 is unavailable"},
		{"missing explicit lock file", []string{"fetch", "--lock", filepath.Join(empty, "nope.lock"), "6.1"}, exitInfra, "--lock"},
		{"btf without a name", []string{"btf"}, exitUsage, "vmtest kernels: btf: missing NAME"},
		{"fetch without a name", []string{"fetch"}, exitUsage, "missing NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runKernels(t, tt.args...)
			require.Equal(t, tt.code, code, "vmtest kernels %q = exit %d, stderr %q; want exit %d containing %q", tt.args, code, out, tt.code, tt.want)
			require.Contains(t, out, tt.want, "vmtest kernels %q = exit %d, stderr %q; want exit %d containing %q", tt.args, code, out, tt.code, tt.want)
		})
	}
}
