package share

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestMemoryArgs(t *testing.T) {
	m := &Memory{mib: 512}
	require.Equal(t, []string{"-object", "memory-backend-memfd,id=cm-mem,size=512M,share=on", "-machine", "memory-backend=cm-mem"}, m.Args(5))
	m.File = os.Stdin // any open file: Args only names the descriptor QEMU gets
	require.Equal(t, []string{"-object", "memory-backend-file,id=cm-mem,size=512M,share=on,align=2M,mem-path=/dev/fd/5", "-machine", "memory-backend=cm-mem"}, m.Args(5))
}

// TestNewMemoryHuge needs root (fsmount): as root, the RAM must be a file
// on a huge-page tmpfs that no mount table lists; otherwise the memfd, with
// the reason.
func TestNewMemoryHuge(t *testing.T) {
	before, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	m, err := NewMemory(8)
	defer m.Close()
	if os.Geteuid() != 0 {
		require.Error(t, err)
		require.False(t, m.Huge())
		require.Contains(t, err.Error(), "memfd")
		return
	}
	require.NoError(t, err)
	require.True(t, m.Huge())
	var st unix.Statfs_t
	require.NoError(t, unix.Fstatfs(int(m.File.Fd()), &st))
	require.Equal(t, int64(unix.TMPFS_MAGIC), int64(st.Type))
	after, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	require.Equal(t, string(before), string(after), "the tmpfs must be in no mount table")
	// The tmpfs holds the guest's RAM and no more: one more MiB than
	// its room does not fit.
	require.NoError(t, unix.Fallocate(int(m.File.Fd()), 0, 0, 8<<20))
	require.Error(t, unix.Fallocate(int(m.File.Fd()), 0, 0, 11<<20))
	require.True(t, strings.HasPrefix(m.File.Name(), "guest-ram"))
}
