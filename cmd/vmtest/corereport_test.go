package main

import (
	"context"
	"os"
	"testing"
)

func TestCoreReportExitCodes(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skipf("host kernel has no BTF: %v", err)
	}
	const testObject = "../../vmtest/corereport/testdata/core.o"
	missing := t.TempDir() + "/no-such-image"
	cache := "--btf-cache=" + t.TempDir()
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"unguarded poison fails", []string{cache, "--kernels", "host", testObject}, exitFail},
		{"probes load on host", []string{cache, "--kernels", "host", "../../probes/tracer_x86_bpfel.o"}, exitOK},
		{"markdown", []string{cache, "--kernels", "host", "--format", "markdown", "../../probes/tracer_x86_bpfel.o"}, exitOK},
		{"json", []string{cache, "--kernels", "host", "--format", "json", testObject}, exitFail},
		{"unavailable kernel only", []string{cache, "--kernels", "host," + missing, "../../probes/tracer_x86_bpfel.o"}, exitInfra},
		{"no kernels", []string{cache, testObject}, exitUsage},
		{"bad format", []string{cache, "--kernels", "host", "--format", "yaml", testObject}, exitUsage},
		{"missing object", []string{cache, "--kernels", "host", "no-such.o"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runCoreReport(context.Background(), tt.args); got != tt.want {
				t.Errorf("core-report %v = exit %d, want %d", tt.args, got, tt.want)
			}
		})
	}
}
