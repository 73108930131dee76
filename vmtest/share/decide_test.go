package share

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
)

// kernelWith writes a config and a modules tree holding mods.
func kernelWith(t *testing.T, config string, dep string) kernel.Kernel {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(cfg, []byte(config), 0o644))
	k := kernel.Kernel{ConfigPath: cfg}
	if dep != "" {
		k.Modules, k.ModulesRelease = filepath.Join(dir, "modules"), "1.0"
		require.NoError(t, os.MkdirAll(filepath.Join(k.Modules, k.ModulesRelease), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(k.Modules, k.ModulesRelease, "modules.dep"), []byte(dep), 0o644))
	} else {
		k.ModulesMissing = "its packages hold no modules"
	}
	return k
}

const debianDep = `kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/fs/fuse/fuse.ko:
kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/fs/overlayfs/overlay.ko:
`

func TestDecide(t *testing.T) {
	daemon := &Daemon{Path: "/usr/lib/qemu/virtiofsd"}
	noDaemon := errors.New("no usable virtiofsd: none installed")
	debian := "CONFIG_VIRTIO_PCI=m\nCONFIG_FUSE_FS=m\nCONFIG_VIRTIO_FS=m\nCONFIG_OVERLAY_FS=m\n# CONFIG_9P_FS is not set\n"
	builtin := "CONFIG_VIRTIO_PCI=y\nCONFIG_FUSE_FS=y\nCONFIG_VIRTIO_FS=y\nCONFIG_OVERLAY_FS=m\n"
	ci := "CONFIG_VIRTIO_PCI=y\nCONFIG_NET_9P=y\nCONFIG_NET_9P_VIRTIO=y\nCONFIG_9P_FS=y\nCONFIG_OVERLAY_FS=y\n"
	for _, c := range []struct {
		name    string
		k       kernel.Kernel
		daemon  *Daemon
		mode    Mode
		modules []string // base names, in load order
		reason  string
	}{
		{"debian modules", kernelWith(t, debian, debianDep), daemon, VirtioFS,
			[]string{"virtio.ko", "virtio_ring.ko", "virtio_pci.ko", "fuse.ko", "virtiofs.ko", "overlay.ko"}, "modules virtio_pci, fuse, virtiofs, overlay loaded at boot"},
		{"built in", kernelWith(t, builtin, "kernel/fs/overlayfs/overlay.ko:\n"), daemon, VirtioFS, []string{"overlay.ko"}, "virtiofs (modules overlay"},
		{"no module set", kernelWith(t, debian, ""), daemon, Packed, nil, "CONFIG_VIRTIO_PCI=m but the kernel has no module set (its packages hold no modules)"},
		{"module missing", kernelWith(t, debian, "kernel/fs/fuse/fuse.ko:\n"), daemon, Packed, nil, "its module virtio_pci is not in the kernel's modules"},
		{"no daemon", kernelWith(t, debian, debianDep), nil, Packed, nil, "virtiofs: no usable virtiofsd"},
		{"9p built in", kernelWith(t, ci, ""), nil, NineP, nil, "9p (built in)"},
		{"no config", kernel.Kernel{}, daemon, Packed, nil, "config is unknown"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.k, c.daemon, noDaemon)
			require.Equal(t, c.mode, d.Mode, "reason: %s", d.Reason)
			require.Contains(t, d.Reason, c.reason)
			var got []string
			for _, m := range d.BootModules {
				require.True(t, strings.HasPrefix(m, c.k.Modules), "%s is in the kernel's tree", m)
				got = append(got, filepath.Base(m))
			}
			require.Equal(t, c.modules, got)
			if c.mode != Packed && c.k.Modules != "" {
				require.Equal(t, Export{Tag: "cm-modules", Host: c.k.Modules, Guest: "/lib/modules"}, d.ModulesExport)
			}
		})
	}
}

func TestQEMUArgs(t *testing.T) {
	ex := []Export{{Tag: "cm-0", Host: "/usr", Guest: "/usr"}, {Tag: "cm-1", Host: "/a,b", Guest: "/a,b"}}
	v := strings.Join(QEMUArgs(VirtioFS, ex, "/run/s"), " ")
	require.NotContains(t, v, "memory-backend")
	require.Contains(t, v, "socket,id=cm-vfs1,path=/run/s/vfs1.sock")
	require.Contains(t, v, "vhost-user-fs-pci,queue-size=1024,chardev=cm-vfs0,tag=cm-0")
	p := strings.Join(QEMUArgs(NineP, ex, ""), " ")
	require.Contains(t, p, "local,id=cm-9p1,path=/a,,b,security_model=none,readonly=on")
	require.Contains(t, p, "virtio-9p-pci,fsdev=cm-9p0,mount_tag=cm-0")
	require.Empty(t, QEMUArgs(Packed, ex, ""))
}

func TestFindDaemon(t *testing.T) {
	dir := t.TempDir()
	script := func(name, help string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\ncat <<'EOF'\n"+help+"\nEOF\n"), 0o755))
		return p
	}
	rust := script("rust", "Usage: virtiofsd [OPTIONS]\n  --shared-dir <DIR>\n  --readonly")
	oldRust := script("oldrust", "Usage: virtiofsd [OPTIONS]\n  --shared-dir <DIR>")
	c := script("c", "usage: virtiofsd [options]\n    -o source=PATH             shared directory tree")
	other := script("other", "hello")
	for _, tc := range []struct {
		path string
		euid int
		rust bool
		err  string
	}{
		{rust, 1000, true, ""},
		{oldRust, 0, false, "has no --readonly"},
		{c, 0, false, ""},
		{c, 1000, false, "runs only as root"},
		{other, 0, false, "not a virtiofsd"},
	} {
		d, err := findDaemon(tc.path, tc.euid)
		if tc.err != "" {
			require.ErrorIs(t, err, ErrNoDaemon, tc.path)
			require.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err, tc.path)
		require.Equal(t, &Daemon{Path: tc.path, Rust: tc.rust}, d)
	}
}
