package initramfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cavaliergopher/cpio"
	"github.com/stretchr/testify/require"
)

func TestWriteRoundTrip(t *testing.T) {
	src := filepath.Join(t.TempDir(), "payload")
	big := bytes.Repeat([]byte("0123456789abcdef"), 4097) // not a multiple of 4 after the name
	require.NoError(t, os.WriteFile(src, append(big, 'x'), 0o600))

	var buf bytes.Buffer
	err := Write(&buf, []File{
		{Name: "/init", Data: []byte("#init"), Mode: 0o755},
		{Name: "/corematrix/bin/payload", Source: src, Mode: 0o755},
		{Name: "corematrix/config.json", Data: []byte(`{"args":["x"]}`)},
		{Name: "/empty", Data: []byte{}},
	})
	require.NoError(t, err)

	type entry struct {
		mode cpio.FileMode
		data string
	}
	got := map[string]entry{}
	var order []string
	r := cpio.NewReader(&buf)
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		data, err := io.ReadAll(r)
		require.NoError(t, err)
		got[h.Name] = entry{h.Mode, string(data)}
		order = append(order, h.Name)
	}
	require.Equal(t, []string{"corematrix", "corematrix/bin", "init", "corematrix/bin/payload", "corematrix/config.json", "empty"}, order)
	require.Equal(t, entry{cpio.TypeDir | 0o755, ""}, got["corematrix"])
	require.Equal(t, entry{cpio.TypeReg | 0o755, "#init"}, got["init"])
	require.Equal(t, entry{cpio.TypeReg | 0o755, string(big) + "x"}, got["corematrix/bin/payload"])
	require.Equal(t, entry{cpio.TypeReg | 0o644, `{"args":["x"]}`}, got["corematrix/config.json"])
	require.Equal(t, entry{cpio.TypeReg | 0o644, ""}, got["empty"])
}

// The kernel only unpacks newc ("070701", or "070702" with checksums) and
// needs 4-byte alignment.
func TestWriteMagic(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, []File{{Name: "/init", Data: []byte("x")}}))
	require.Equal(t, "070701", string(buf.Bytes()[:6]))
	require.Zero(t, buf.Len()%4, "archive length %d is not 4-byte aligned", buf.Len())
}

func TestWriteRejects(t *testing.T) {
	for name, f := range map[string]File{
		"empty name":     {Name: "/"},
		"missing source": {Name: "/x", Source: filepath.Join(t.TempDir(), "nope")},
		"directory":      {Name: "/x", Source: t.TempDir()},
	} {
		t.Run(name, func(t *testing.T) {
			err := Write(io.Discard, []File{f})
			require.Error(t, err)
		})
	}
}

func TestCheckStatic(t *testing.T) {
	dir := t.TempDir()
	static := filepath.Join(dir, "static")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() {}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644))
	build := exec.Command("go", "build", "-o", static, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	script := filepath.Join(dir, "script.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755))

	dynamic, err := exec.LookPath("true") // coreutils is dynamically linked
	require.NoError(t, err)

	tests := []struct {
		path string
		want error
	}{
		{static, nil},
		{dynamic, ErrNotStatic},
		{script, ErrNotELF},
	}
	for _, tt := range tests {
		err := CheckStatic(tt.path)
		if tt.want == nil {
			require.NoError(t, err, tt.path)
			continue
		}
		require.ErrorIs(t, err, tt.want, "path %s", tt.path)
	}
	require.Contains(t, CheckStatic(dynamic).Error(), "CGO_ENABLED=0")
}

func TestWriteSymlink(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, []File{{Name: "/bin/sh", Link: "/bin/busybox", Data: []byte("ignored")}}))
	r := cpio.NewReader(&buf)
	h, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, "bin", h.Name)
	h, err = r.Next()
	require.NoError(t, err)
	require.Equal(t, "bin/sh", h.Name)
	require.Equal(t, cpio.FileMode(cpio.TypeSymlink|0o777), h.Mode)
	require.Equal(t, "/bin/busybox", h.Linkname)
}

func TestBusybox(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		_, err := Busybox(filepath.Join(t.TempDir(), "busybox"))
		require.ErrorIs(t, err, ErrNoBusybox)
		require.Contains(t, err.Error(), "busybox-static is not installed; run make deps")
	})
	t.Run("dynamic", func(t *testing.T) {
		dynamic, err := exec.LookPath("true")
		require.NoError(t, err)
		_, err = Busybox(dynamic)
		require.ErrorIs(t, err, ErrNotStatic)
	})
	t.Run("installed", func(t *testing.T) {
		// make deps installs busybox-static; a missing one is a failure here.
		files, err := Busybox(BusyboxPath)
		require.NoError(t, err)
		require.Equal(t, File{Name: BusyboxPath, Source: BusyboxPath, Mode: 0o755}, files[0])
		links := map[string]string{}
		for _, f := range files[1:] {
			links[f.Name] = f.Link
		}
		for _, name := range []string{"/bin/sh", "/bin/ls", "/usr/bin/awk", "/sbin/ip"} {
			require.Equal(t, BusyboxPath, links[name], "applet link %s", name)
		}
		require.NotContains(t, links, "/init")
		require.NotContains(t, links, BusyboxPath)
	})
}
