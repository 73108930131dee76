package share

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMergedNamespaceReadOnly starts a stand-in for the C daemon (it runs
// only as root, and so does this test) through Start: in its namespace
// each export is readable under its tag and nothing, an export or the root
// holding them, can be written; the host's mount table never shows the
// namespace's mounts, and the thread holding the namespace is gone once
// the daemon is.
func TestMergedNamespaceReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the C virtiofsd, and so its namespace, is used only as root")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	require.NoError(t, os.MkdirAll(src, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "f"), []byte("host file\n"), 0o644))
	out := filepath.Join(dir, "out")
	fake := filepath.Join(dir, "virtiofsd")
	// The stand-in finds its root in -o source=, as the C daemon does.
	require.NoError(t, os.WriteFile(fake, []byte(`#!/bin/sh
for a; do case $a in source=*) root=${a#source=};; esac; done
{
	cat "$root/cm-src/f"
	touch "$root/cm-src/new" 2>&1 || echo "export: refused"
	touch "$root/new" 2>&1 || echo "root: refused"
	mkdir "$root/cm-src/d" 2>&1 || echo "mkdir: refused"
	echo done
} > `+out+` 2>&1
sleep 30
`), 0o755))
	sockDir := filepath.Join(dir, "sock")
	require.NoError(t, os.Mkdir(sockDir, 0o755))
	before, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	s, err := Start(context.Background(), &Daemon{Path: fake}, []Export{{Tag: "cm-src", Host: src, Guest: src}}, sockDir)
	require.NoError(t, err)
	defer s.Stop()
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !strings.Contains(got, "done"); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(out)
		got = string(b)
	}
	require.Contains(t, got, "host file\n")
	for _, w := range []string{"export", "root", "mkdir"} {
		require.Contains(t, got, w+": refused", got)
	}
	require.Contains(t, got, "Read-only file system")
	after, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	require.Equal(t, string(before), string(after), "a mount of the daemon's namespace reached the host's")
	_, err = os.Stat(filepath.Join(src, "new"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, s.Failure(), "the stand-in daemon still runs")
	d := s.procs[0]
	s.Stop()
	<-d.exited
	require.Error(t, d.err, "Stop ends the daemon")
}
