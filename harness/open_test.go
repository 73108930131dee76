package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/corematrix/corematrix/harness/ground"
	"github.com/corematrix/corematrix/probes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpen checks the open event of a child opening a uniquely named file:
// name, inode and pid.
func TestOpen(t *testing.T) {
	var c *ground.Child
	var name string
	var ino uint64
	forModes(t, func(t *testing.T, ss []*session) {
		installWorkload(t)
		name = fmt.Sprintf("cm-open-%d", time.Now().UnixNano())
		path := filepath.Join(workload.dir, name)
		require.NoError(t, os.WriteFile(path, []byte("corematrix"), 0o644))
		fi, err := os.Stat(path)
		require.NoError(t, err)
		ino = fi.Sys().(*syscall.Stat_t).Ino

		c = spawnTargeted(t, ss, workload.open, ground.SpawnOptions{Args: []string{path}})
		code, err := c.Wait()
		require.NoError(t, err)
		require.Equal(t, 0, code, "child could not open %s (exit %d)", path, code)
	}, func(t *testing.T, s *session) {
		ev := wait(t, s, c.Pid, "open of "+name, func(e *probes.Open) bool {
			return int(e.TGID) == c.Pid && e.Name.String() == name
		})
		assert.Equal(t, uint32(c.Pid), ev.PID, "pid; event %s", ev)
		assert.Equal(t, ino, ev.Inode, "inode (stat); event %s", ev)
		assert.Equal(t, openName, ev.Comm.String(), "comm; event %s", ev)
		assert.Equal(t, wantCore(s.mode, probes.KindOpen), ev.Core, "core bits; event %s", ev)
	})
}
