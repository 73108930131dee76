package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/vmtest"
)

func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	w := &prefixWriter{mu: &mu, w: &out, prefix: "6.1  | "}
	w.Write([]byte("one\ntw"))
	require.Equal(t, "6.1  | one\n", out.String(), "a partial line waits")
	w.Write([]byte("o\nthree"))
	w.Flush()
	require.Equal(t, "6.1  | one\n6.1  | two\n6.1  | three\n", out.String())
}

func TestExecWorkdir(t *testing.T) {
	dir := t.TempDir()
	cfg := vmtest.Config{Args: []string{"-test.outputdir=" + dir, "-test.coverprofile=c.out", "-test.timeout=1m"}}
	require.NoError(t, execWorkdir(&cfg, dir, false))
	require.Equal(t, dir, cfg.WorkDir)
	require.True(t, cfg.PackWorkDir)
	require.Equal(t, []string{filepath.Join(dir, "c.out")}, cfg.CollectFiles)
	require.Equal(t, []string{dir}, cfg.CollectDirs)

	require.ErrorContains(t, execWorkdir(&vmtest.Config{}, "/", false), "working directory is /")

	cfg = vmtest.Config{}
	require.NoError(t, execWorkdir(&cfg, "", true))
	wd, _ := os.Getwd()
	require.Equal(t, wd, cfg.WorkDir, "--no-workdir starts in an empty directory at the current path")
	require.False(t, cfg.PackWorkDir)
}

func TestWriteFilesMergesCoverProfiles(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "c.out")
	other := filepath.Join(dir, "out", "a.txt")
	cfg := vmtest.Config{Args: []string{"-test.coverprofile=" + prof}, WorkDir: dir}
	res := func(kernel, cover, a string) *vmtest.Result {
		r := &vmtest.Result{Files: []vmtest.File{{Path: prof, Mode: 0o644, Data: []byte(cover)}, {Path: other, Mode: 0o644, Data: []byte(a)}}}
		r.Kernel.Name = kernel
		return r
	}
	require.NoError(t, writeFiles(cfg, []*vmtest.Result{
		res("5.10", "mode: set\nx.go:1.1,2.2 1 1\n", "first"),
		nil, // a kernel that never ran
		res("6.1", "mode: set\nx.go:3.1,4.2 1 0\n", "second"),
	}))
	got, err := os.ReadFile(prof)
	require.NoError(t, err)
	require.Equal(t, "mode: set\nx.go:1.1,2.2 1 1\nx.go:3.1,4.2 1 0\n", string(got))
	got, err = os.ReadFile(other)
	require.NoError(t, err)
	require.Equal(t, "first", string(got), "other files: the first kernel's")
}
