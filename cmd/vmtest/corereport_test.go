package main

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCoreReportExitCodes(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skipf("host kernel has no BTF: %v", err)
	}
	const testObject = "../../corereport/testdata/core.o"
	cache := "--btf-cache=" + t.TempDir()
	// An empty kernel cache and no network: 5.4 is a valid name that cannot
	// be resolved.
	offline := []string{"--offline", "--lock=none", "--cache-dir", t.TempDir()}
	tests := []struct {
		name string
		args []string
		want int
		// out must appear in the report.
		out string
	}{
		{"unguarded poison fails", []string{cache, "--kernels", "host", testObject}, exitFail, "unguarded_bogus FAILS on host"},
		{"probes load on host", []string{cache, "--kernels", "host", "../../probes/tracer_x86_bpfel.o"}, exitOK, "task_struct.__state "},
		{"markdown", []string{cache, "--kernels", "host", "--format", "markdown", "../../probes/tracer_x86_bpfel.o"}, exitOK, "| sched_switch | `task_struct.__state` | field_exists | 1 |"},
		{"json", []string{cache, "--kernels", "host", "--format", "json", testObject}, exitFail, `"unguarded": true`},
		{"unavailable kernel only", append(offline, cache, "--kernels", "host,5.4", "../../probes/tracer_x86_bpfel.o"), exitInfra, "5.4: n/a"},
		{"bad kernel name", []string{cache, "--kernels", "host,6.x", testObject}, exitUsage, ""},
		{"no kernels", []string{cache, testObject}, exitUsage, ""},
		{"bad format", []string{cache, "--kernels", "host", "--format", "yaml", testObject}, exitUsage, ""},
		{"missing object", []string{cache, "--kernels", "host", "no-such.o"}, exitUsage, ""},
		{"diff of two cached kernels", []string{"--offline", "--lock=none", "--diff", "5.10", "6.1", "../../harness/broken/broken_task_btf.o"}, exitFail,
			"bpf_get_current_task_btf  helper  ABSENT"},
		{"diff with an unavailable kernel", append(offline, cache, "--diff", "host", "5.4", testObject), exitInfra, ""},
		{"diff needs two kernels", []string{cache, "--diff", "host", testObject}, exitUsage, ""},
		{"diff takes no --kernels", []string{cache, "--diff", "--kernels", "host", "host", "5.10"}, exitUsage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			got := codeOf(coreReport(context.Background(), tt.args, &out))
			assert.Equal(t, tt.want, got, "core-report %v = exit %d, want %d; output:\n%s", tt.args, got, tt.want, out.String())
			assert.Contains(t, out.String(), tt.out, "core-report %v output lacks %q:\n%s", tt.args, tt.out, out.String())
		})
	}
}
