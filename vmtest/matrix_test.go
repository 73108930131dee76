package vmtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
)

// A kernel's deadline under a run's shared Deadline: the shorter of its
// own timeout and what is left, and no start with less than MinKernelTime.
func TestKernelBudget(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		deadline time.Time
		timeout  time.Duration
		want     time.Duration
		wantOK   bool
	}{
		{"no deadline", time.Time{}, 10 * time.Minute, 10 * time.Minute, true},
		{"first batch: own timeout is shorter", now.Add(10*time.Minute + 50*time.Second), 10*time.Minute + 45*time.Second, 10*time.Minute + 45*time.Second, true},
		{"later batch: cut to what is left", now.Add(4 * time.Minute), 10*time.Minute + 45*time.Second, 4 * time.Minute, true},
		{"exactly the minimum left", now.Add(MinKernelTime), 10 * time.Minute, MinKernelTime, true},
		{"less than the minimum left", now.Add(MinKernelTime - time.Second), 10 * time.Minute, MinKernelTime - time.Second, false},
		{"deadline passed", now.Add(-time.Minute), 10 * time.Minute, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := KernelBudget(now, tc.deadline, tc.timeout)
			require.Equal(t, tc.wantOK, ok, "ok")
			require.Equal(t, tc.want, got)
		})
	}
}

// Kernels whose turn comes after the run's Deadline are not booted: each is
// a timeout whose reason says it did not start and why, never "interrupted".
func TestMatrixDeadlinePassed(t *testing.T) {
	r := &Runner{cfg: Config{
		Kernels:      []kernel.Kernel{{Name: "5.10"}, {Name: "6.1"}},
		Jobs:         1,
		Timeout:      time.Minute,
		Deadline:     time.Now().Add(MinKernelTime / 2),
		DeadlineNote: "go test kills vmtest exec 1m0s after it started it",
	}}
	sum, err := r.Matrix(context.Background(), nil)
	require.Error(t, err)
	require.Len(t, sum.Kernels, 2)
	for _, k := range sum.Kernels {
		require.Equal(t, report.Timeout, k.Outcome, k.Kernel.Name)
		require.Regexp(t, `^not started: its turn came with (1\d|2[0-3])s left of the run's deadline \(go test kills vmtest exec 1m0s after it started it\), less than the 45s a kernel needs; raise -timeout or --jobs$`, k.Reason)
	}
	require.Equal(t, report.ExitFail, report.ExitCode(sum))
}
