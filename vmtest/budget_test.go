package vmtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
)

// fakeQEMU writes a script that stands in for QEMU: it finds the file
// QEMU would write the guest's results port to, and runs body with it in
// $results and the console log in $console.
func fakeQEMU(t *testing.T, body string) string {
	t.Helper()
	script := `#!/bin/sh
for a in "$@"; do
	case "$a" in
	file,id=results,path=*) results="${a#file,id=results,path=}" ;;
	file,id=console,path=*) console="${a#file,id=console,path=}" ;;
	esac
done
` + body + "\n"
	path := filepath.Join(t.TempDir(), "qemu")
	require.NoError(t, os.WriteFile(path, []byte(script), 0o755))
	return path
}

// TestBudgetStopsQEMU checks that a guest sending more than the budget
// (on the results port or the console) is stopped while it runs, and that
// the verdict says why.
func TestBudgetStopsQEMU(t *testing.T) {
	for name, body := range map[string]string{
		"results": `exec yes corematrix-init > "$results"`,
		"console": `exec yes kernel > "$console"`,
	} {
		t.Run(name, func(t *testing.T) {
			b := &boot{
				qemu: fakeQEMU(t, body), kernel: kernel.Kernel{Name: "6.1", Path: "bzImage"}, initramfs: "initramfs",
				dir: t.TempDir(), memoryMiB: 64, cpus: 1, accel: AccelTCG,
				timeout: 2 * time.Minute, limit: 1 << 20,
			}
			start := time.Now()
			res, err := b.run(context.Background())
			require.NoError(t, err)
			require.Less(t, time.Since(start), time.Minute, "QEMU was not stopped at the budget")
			require.Equal(t, int64(1<<20), res.evidence.OverBudget)
			require.LessOrEqual(t, int64(len(res.evidence.Results)+len(res.evidence.Console)), int64(2<<20), "the host kept more than the budget")
			res.evidence.Limit = b.limit
			v := Classify(res.evidence)
			require.Equal(t, report.Fail, v.Outcome, v.Reason)
			require.Contains(t, v.Reason, "guest output exceeded 1 MiB; QEMU stopped")
		})
	}
}
