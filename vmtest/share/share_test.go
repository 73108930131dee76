package share

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func write(t *testing.T, p, data string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(data), mode))
	require.NoError(t, os.Chmod(p, mode))
}

func TestCopyEtcLeavesCredentialsOut(t *testing.T) {
	src := t.TempDir()
	write(t, filepath.Join(src, "passwd"), "root:x:0:0\n", 0o644)
	write(t, filepath.Join(src, "os-release"), "ID=debian\n", 0o644)
	write(t, filepath.Join(src, "shadow"), "root:$6$secret\n", 0o640)
	write(t, filepath.Join(src, "gshadow"), "root:*::\n", 0o644) // by name, whatever the mode
	write(t, filepath.Join(src, "sudoers"), "root ALL\n", 0o440)
	write(t, filepath.Join(src, "ssh", "ssh_host_ed25519_key"), "PRIVATE\n", 0o600)
	write(t, filepath.Join(src, "ssh", "ssh_config"), "Host *\n", 0o644)
	write(t, filepath.Join(src, "ssl", "private", "key.pem"), "PRIVATE\n", 0o644)
	write(t, filepath.Join(src, "app", "token"), "secret\n", 0o600)
	write(t, filepath.Join(src, "app", "app.conf"), "x=1\n", 0o644)
	write(t, filepath.Join(src, "locked", "inside.conf"), "x\n", 0o644)
	require.NoError(t, os.Chmod(filepath.Join(src, "locked"), 0o700))
	require.NoError(t, os.Symlink("/proc/self/mounts", filepath.Join(src, "mtab")))

	dst := filepath.Join(t.TempDir(), "etc")
	require.NoError(t, CopyEtc(src, dst))
	var got []string
	filepath.Walk(dst, func(p string, info os.FileInfo, err error) error {
		if p != dst {
			rel, _ := filepath.Rel(dst, p)
			got = append(got, rel)
		}
		return nil
	})
	require.ElementsMatch(t, []string{"passwd", "os-release", "app", "app/app.conf", "ssl", "mtab"}, got)
	link, err := os.Readlink(filepath.Join(dst, "mtab"))
	require.NoError(t, err)
	require.Equal(t, "/proc/self/mounts", link, "links stay links")
}

func TestSourceRoot(t *testing.T) {
	root := t.TempDir()
	repo := filepath.Join(root, "repo")
	write(t, filepath.Join(repo, ".git", "HEAD"), "ref\n", 0o644)
	write(t, filepath.Join(repo, "mod", "go.mod"), "module m\n", 0o644)
	write(t, filepath.Join(root, "plain", "go.mod"), "module p\n", 0o644)
	write(t, filepath.Join(root, "plain", "sub", "go.mod"), "module p/sub\n", 0o644)
	require.NoError(t, os.MkdirAll(filepath.Join(repo, "mod", "pkg"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "plain", "sub", "pkg"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "none", "pkg"), 0o755))
	for _, c := range []struct{ dir, want, why string }{
		{filepath.Join(repo, "mod", "pkg"), repo, WhyRepository},
		{filepath.Join(root, "plain", "sub", "pkg"), filepath.Join(root, "plain"), WhyModule},
		{filepath.Join(root, "none", "pkg"), filepath.Join(root, "none", "pkg"), WhyAlone},
	} {
		got, why := SourceRoot(c.dir)
		require.Equal(t, c.want, got, "source root of %s", c.dir)
		require.Equal(t, c.why, why, "why %s", c.dir)
	}
}

func TestCollect(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "usr", "bin"), 0o755))
	require.NoError(t, os.Symlink("usr/bin", filepath.Join(root, "bin")))
	require.NoError(t, os.Symlink("usr/lib", filepath.Join(root, "lib")))
	write(t, filepath.Join(root, "etc", "passwd"), "root:x:0:0\n", 0o644)
	goroot := filepath.Join(root, "goroot")
	write(t, filepath.Join(goroot, "bin", "go"), "#!/bin/false\n", 0o755)
	require.NoError(t, os.MkdirAll(filepath.Join(goroot, "src", "runtime"), 0o755))
	home := filepath.Join(root, "home", "u")
	require.NoError(t, os.MkdirAll(filepath.Join(home, "go", "pkg", "mod"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(home, ".cache", "go-build"), 0o755))
	write(t, filepath.Join(home, ".ssh", "id_ed25519"), "PRIVATE\n", 0o600)
	repo := filepath.Join(home, "src", "repo")
	write(t, filepath.Join(repo, ".git", "HEAD"), "ref\n", 0o644)
	require.NoError(t, os.MkdirAll(filepath.Join(repo, "pkg", "inner"), 0o755))

	s, err := Collect(Options{Root: root, TmpDir: t.TempDir(), WorkDir: filepath.Join(repo, "pkg"),
		Environ: []string{"HOME=" + home, "PATH=/nonexistent:" + filepath.Join(goroot, "bin")},
		Extra:   []string{filepath.Join(repo, "pkg", "inner")}})
	require.NoError(t, err)
	var guests []string
	for _, e := range s.Exports {
		require.True(t, e.Overlay, "%s has an overlay", e.Guest)
		guests = append(guests, e.Guest)
		require.False(t, strings.HasPrefix(e.Host, filepath.Join(home, ".ssh")), "the home directory's secrets are out")
		require.NotEqual(t, home, e.Host, "the home directory itself is out")
	}
	require.Equal(t, []string{"/etc", "/usr", goroot, repo, filepath.Join(home, ".cache", "go-build"), filepath.Join(home, "go", "pkg", "mod")}, guests,
		"parents first; the --share dir inside the repository is served by it")
	require.Equal(t, []Link{{"/bin", "usr/bin"}, {"/lib", "usr/lib"}}, s.Links)
	require.Equal(t, "source tree "+repo+" (the enclosing repository)", s.Source)
	require.False(t, s.SourceAlone)
	require.Equal(t, []string{filepath.Join(goroot, "bin")}, s.PathAppend)
	require.ElementsMatch(t, []string{"GOROOT=" + goroot, "GOMODCACHE=" + filepath.Join(home, "go", "pkg", "mod"),
		"GOCACHE=" + filepath.Join(home, ".cache", "go-build"), "GOPATH=" + filepath.Join(home, "go")}, s.Env)

	_, err = Collect(Options{Root: root, Extra: []string{filepath.Join(root, "nope")}})
	require.ErrorContains(t, err, "not a directory")
}

// TestCollectAlone: a working directory in no repository or module (a
// directory under /tmp) is shared alone, not its parents, and Source says so.
func TestCollectAlone(t *testing.T) {
	root := t.TempDir()
	work := filepath.Join(root, "tmp", "work")
	write(t, filepath.Join(work, "in.txt"), "x\n", 0o644)
	write(t, filepath.Join(root, "tmp", "other", "secret.txt"), "no\n", 0o644)
	s, err := Collect(Options{Root: root, WorkDir: work, Environ: []string{"PATH=/nonexistent"}})
	require.NoError(t, err)
	var hosts []string
	for _, e := range s.Exports {
		hosts = append(hosts, e.Host)
	}
	require.Equal(t, []string{work}, hosts, "only the working directory, not its parent")
	require.True(t, s.SourceAlone)
	require.Equal(t, "source tree "+work+" (the working directory only: it is in no repository or module)", s.Source)
}
