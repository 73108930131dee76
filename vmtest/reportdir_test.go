package vmtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/internal/beneath"
	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/vmtest/wire"
)

// TestReportDirRefusesPlantedLinks plants links where a kernel's report
// directory and its files belong (as a checkout or an earlier shard could)
// and checks that each is refused with an error naming the link, and that
// nothing is written through it.
func TestReportDirRefusesPlantedLinks(t *testing.T) {
	victimDir := t.TempDir()
	victim := filepath.Join(victimDir, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o644))
	untouched := func() {
		t.Helper()
		b, err := os.ReadFile(victim)
		require.NoError(t, err)
		require.Equal(t, "precious", string(b))
		ents, _ := os.ReadDir(victimDir)
		require.Len(t, ents, 1, "a file appeared in the victim directory")
	}

	// The kernel directory itself.
	root := t.TempDir()
	require.NoError(t, os.Symlink(victimDir, filepath.Join(root, "6.1")))
	err := makeKernelDir(root, filepath.Join(root, "6.1"))
	require.ErrorIs(t, err, beneath.ErrLink)
	require.NoError(t, makeKernelDir(root, filepath.Join(root, "5.10")))
	untouched()

	// The files QEMU writes.
	for _, name := range []string{ConsoleFile, ResultsFile} {
		dir := t.TempDir()
		require.NoError(t, os.Symlink(victim, filepath.Join(dir, name)))
		b := &boot{
			qemu: fakeQEMU(t, `echo guest > "$console"; echo guest > "$results"`), kernel: kernel.Kernel{Name: "6.1", Path: "bzImage"},
			initramfs: "initramfs", dir: dir, memoryMiB: 64, cpus: 1, accel: AccelTCG, timeout: time.Minute,
		}
		_, err := b.run(context.Background())
		require.ErrorIs(t, err, beneath.ErrLink, name)
		require.Contains(t, err.Error(), name)
		untouched()
	}

	// The files the runner writes after the boot.
	stream := wire.Parse(shellStream(t, 0, false))
	for _, name := range []string{OutputFile} {
		dir := t.TempDir()
		require.NoError(t, os.Symlink(victim, filepath.Join(dir, name)))
		err := writeStreams(dir, stream, false)
		require.ErrorIs(t, err, beneath.ErrLink, name)
		require.Contains(t, err.Error(), name)
		untouched()
	}

	// An honest boot writes through the descriptors it opened.
	dir := t.TempDir()
	b := &boot{
		qemu: fakeQEMU(t, `echo console-bytes > "$console"; echo results-bytes > "$results"`), kernel: kernel.Kernel{Name: "6.1", Path: "bzImage"},
		initramfs: "initramfs", dir: dir, memoryMiB: 64, cpus: 1, accel: AccelTCG, timeout: time.Minute,
	}
	res, err := b.run(context.Background())
	require.NoError(t, err)
	require.Equal(t, "console-bytes\n", string(res.evidence.Console))
	require.Equal(t, "results-bytes\n", string(res.evidence.Results))
}
