package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
	other := filepath.Join(dir, "cpu.out")
	cfg := vmtest.Config{Args: []string{"-test.coverprofile=" + prof, "-test.cpuprofile=" + other}, WorkDir: dir}
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

// TestWriteFilesRefusesHostileFiles feeds writeFiles what a hostile guest
// sends back for `go test -cpuprofile cpu.out -cover` in a package
// directory: only cpu.out and the coverage files are written, nothing
// executable, nothing through a link, nothing over a file that existed.
func TestWriteFilesRefusesHostileFiles(t *testing.T) {
	base := t.TempDir()
	pkg, cov, outside := filepath.Join(base, "repo", "pkg"), filepath.Join(base, "cov"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(pkg, ".git", "hooks"), cov, outside} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(pkg, "Makefile"), []byte("all:\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(pkg, "cpu.out"), []byte("old profile"), 0o644))
	require.NoError(t, os.Symlink(outside, filepath.Join(pkg, "link")))
	require.NoError(t, os.Symlink(outside, filepath.Join(cov, "covcounters.link")))
	require.NoError(t, os.WriteFile(filepath.Join(cov, "covmeta.same"), []byte("meta"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(cov, "covmeta.diff"), []byte("meta"), 0o644))

	cfg := vmtest.Config{Args: []string{"-test.outputdir=" + pkg, "-test.cpuprofile=cpu.out", "-test.gocoverdir=" + cov}, WorkDir: pkg}
	sent := map[string]os.FileMode{
		filepath.Join(pkg, "cpu.out"):                        0o755,
		filepath.Join(cov, "covmeta.abc"):                    0o755,
		filepath.Join(cov, "covcounters.abc.1.2"):            0o644,
		filepath.Join(cov, "covmeta.same"):                   0o644,
		filepath.Join(pkg, ".git", "hooks", "pre-commit"):    0o755,
		filepath.Join(pkg, "Makefile"):                       0o644,
		filepath.Join(pkg, ".github", "workflows", "ci.yml"): 0o644,
		filepath.Join(pkg, "link", "planted"):                0o644,
		filepath.Join(pkg, "link") + "/../planted":           0o644,
		filepath.Join(base, "repo", "escape"):                0o644,
		filepath.Join(cov, "covcounters.link"):               0o644,
		filepath.Join(cov, "covmeta.diff"):                   0o644,
		filepath.Join(cov, "sub", "covmeta.x"):               0o644,
	}
	res := &vmtest.Result{}
	res.Kernel.Name = "6.1"
	for p, m := range sent {
		data := "guest " + filepath.Base(p)
		if filepath.Base(p) == "covmeta.same" {
			data = "meta"
		}
		res.Files = append(res.Files, vmtest.File{Path: p, Mode: m, Data: []byte(data)})
	}
	require.NoError(t, writeFiles(cfg, []*vmtest.Result{res}))

	for p, want := range map[string]string{
		filepath.Join(pkg, "cpu.out"):             "guest cpu.out",
		filepath.Join(cov, "covmeta.abc"):         "guest covmeta.abc",
		filepath.Join(cov, "covcounters.abc.1.2"): "guest covcounters.abc.1.2",
		filepath.Join(cov, "covmeta.same"):        "meta",
		filepath.Join(cov, "covmeta.diff"):        "meta",
		filepath.Join(pkg, "Makefile"):            "all:\n",
	} {
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, want, string(got), p)
		st, _ := os.Lstat(p)
		assert.Zero(t, st.Mode()&0o111, "%s is executable: %v", p, st.Mode())
	}
	for _, p := range []string{
		filepath.Join(pkg, ".git", "hooks", "pre-commit"), filepath.Join(pkg, ".github"),
		filepath.Join(outside, "planted"), filepath.Join(pkg, "planted"), filepath.Join(base, "repo", "escape"),
		filepath.Join(cov, "sub"),
	} {
		_, err := os.Lstat(p)
		assert.ErrorIs(t, err, os.ErrNotExist, "%s was written", p)
	}
	ents, _ := os.ReadDir(outside)
	assert.Empty(t, ents, "files written through a link")
	refused := map[string]string{}
	for _, r := range res.Refused {
		refused[r.Path] = r.Reason
	}
	assert.Len(t, refused, 9, "refused: %v", refused)
	assert.Contains(t, refused[filepath.Join(pkg, ".git", "hooks", "pre-commit")], "not a file go test asked for")
	assert.Contains(t, refused[filepath.Join(cov, "covcounters.link")], "symbolic link")
	assert.Contains(t, refused[filepath.Join(cov, "covmeta.diff")], "existed before the run")
}

// TestPrefixWriterNeutral checks that under GitHub Actions no prefixed
// guest line carries the runner's legacy "##[" command form (the "::" form
// only counts at a line's start, where the prefix is).
func TestPrefixWriterNeutral(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	w := &prefixWriter{mu: &mu, w: &out, prefix: "6.1 | ", neutral: true}
	w.Write([]byte("##[error]forged\n::error::x\npartial ##["))
	w.Flush()
	require.Equal(t, "6.1 | ##\u200b[error]forged\n6.1 | ::error::x\n6.1 | partial ##\u200b[\n", out.String())
}

// The run's deadline leaves go test's one-minute wait minus the margin for
// the table and reports, from the moment vmtest exec started.
func TestRunDeadline(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		timeout time.Duration
		want    time.Duration
	}{
		{10 * time.Minute, 10*time.Minute + 50*time.Second},
		{30 * time.Second, 80 * time.Second},
	} {
		got := runDeadline(start, tc.timeout).Sub(start)
		require.Equal(t, tc.want, got, "-test.timeout %s", tc.timeout)
		// The first kernels keep their own deadline (timeout + bootMargin):
		// the shared one only cuts kernels that waited for a slot.
		require.Greater(t, got, tc.timeout+bootMargin)
		require.Less(t, got, tc.timeout+goTestWait)
	}
}
