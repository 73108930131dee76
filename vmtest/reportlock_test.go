package vmtest

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Two runs sharing one report directory would read each other's results
// streams: the second is refused until the first let go.
func TestLockReportDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reports")
	first, err := lockReportDir(dir)
	require.NoError(t, err)
	_, err = lockReportDir(dir)
	require.ErrorIs(t, err, ErrReportDirBusy)
	require.ErrorContains(t, err, "report directory "+dir+": in use by another vmtest run (go test ./... runs packages in parallel: give each its own --report DIR, or run go test -p 1)")
	require.NoError(t, first.Close())
	second, err := lockReportDir(dir)
	require.NoError(t, err)
	require.NoError(t, second.Close())
}
