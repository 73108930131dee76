package guest

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Guest directories of a sharing guest.
const (
	shareRO      = "/corematrix/ro" // each export, read-only, by tag
	shareRW      = "/corematrix/rw" // a tmpfs: the overlays' upper and work dirs
	keptBusybox  = "/corematrix/busybox"
	modulesMount = "cm-modules"
)

// readShare reads the kernel's Share; ok is false in the packed mode.
func readShare() (Share, bool, error) {
	raw, err := os.ReadFile(SharePath)
	if errors.Is(err, os.ErrNotExist) {
		return Share{}, false, nil
	}
	if err != nil {
		return Share{}, false, fmt.Errorf("read share config: %w", err)
	}
	s, err := ParseShare(raw)
	return s, err == nil, err
}

// mountShares loads the boot modules (finit_module, in order; one already
// loaded or built in is fine), then mounts each export read-only with a
// tmpfs overlay for writes at its path, makes the host's links (/bin ->
// usr/bin), and points the kernel's module loader at busybox's modprobe
// when the kernel's modules tree is mounted. Busybox stays reachable as
// ModprobeBin.
func mountShares(s Share) error {
	for i := range s.Modules {
		if err := loadModule(BootModuleName(i)); err != nil {
			return err
		}
	}
	if err := mount("tmpfs", shareRW, "tmpfs", true); err != nil {
		return err
	}
	if err := keepBusybox(); err != nil {
		return err
	}
	if err := makeLinks(s.Links); err != nil {
		return err
	}
	modules := false
	devices := map[string]bool{}
	for _, m := range s.Mounts {
		if err := mountOne(s.FSType, m, devices); err != nil {
			return err
		}
		modules = modules || mountName(m) == modulesMount
	}
	if modules {
		staticNodes(release())
		if _, err := os.Lstat(ModprobeBin); err == nil {
			if err := os.WriteFile(ModprobePath, []byte(ModprobeBin+"\n"), 0); err != nil {
				return fmt.Errorf("set modprobe: %w", err)
			}
		}
	}
	return nil
}

// keepBusybox moves busybox out of /bin, which a shared /bin may replace,
// and keeps it reachable as ModprobeBin.
func keepBusybox() error {
	if _, err := os.Lstat("/bin/busybox"); err != nil {
		return nil
	}
	if err := os.Rename("/bin/busybox", keptBusybox); err != nil {
		return fmt.Errorf("keep busybox: %w", err)
	}
	if err := os.Symlink(keptBusybox, ModprobeBin); err != nil {
		return fmt.Errorf("keep busybox: %w", err)
	}
	return nil
}

// makeLinks makes the host's links (/bin -> usr/bin), replacing what is
// at their paths.
func makeLinks(links []Link) error {
	for _, l := range links {
		if err := os.RemoveAll(l.Path); err != nil {
			return fmt.Errorf("link %s: %w", l.Path, err)
		}
		if err := os.Symlink(l.Target, l.Path); err != nil {
			return fmt.Errorf("link %s: %w", l.Path, err)
		}
	}
	return nil
}

// mountName is the name of m's writable layer: its Sub, else its Tag.
func mountName(m Mount) string {
	if m.Sub == "" {
		return m.Tag
	}
	return m.Sub
}

// mountOne mounts m at its path: its export's device read-only under
// shareRO (once per tag: devices holds the tags mounted), then the
// directory bound, or overlaid with a tmpfs layer for writes.
func mountOne(fsType string, m Mount, devices map[string]bool) error {
	if !path.IsAbs(m.Path) || strings.ContainsAny(m.Tag, "/,:") || strings.ContainsAny(m.Sub, "/,:") {
		return fmt.Errorf("share: bad mount %q/%q at %q", m.Tag, m.Sub, m.Path)
	}
	dev := path.Join(shareRO, m.Tag)
	if !devices[m.Tag] {
		devices[m.Tag] = true
		if err := mountDevice(fsType, m.Tag, dev); err != nil {
			return err
		}
	}
	lower := path.Join(dev, m.Sub)
	if !m.Overlay {
		if err := os.MkdirAll(m.Path, 0o755); err != nil {
			return fmt.Errorf("mount %s: %w", m.Path, err)
		}
		if err := unix.Mount(lower, m.Path, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s on %s: %w", lower, m.Path, err)
		}
		return nil
	}
	name := mountName(m)
	upper, work := path.Join(shareRW, name, "upper"), path.Join(shareRW, name, "work")
	for _, d := range []string{upper, work, m.Path} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("overlay %s: %w", m.Path, err)
		}
	}
	o := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", m.Path, "overlay", 0, o); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", m.Path, err)
	}
	return nil
}

// mountDevice mounts the export tag of file system fsType (virtiofs or
// 9p) read-only at dev.
func mountDevice(fsType, tag, dev string) error {
	opts := ""
	if fsType == "9p" {
		opts = "trans=virtio,version=9p2000.L,msize=512000"
	}
	if err := os.MkdirAll(dev, 0o755); err != nil {
		return fmt.Errorf("mount %s: %w", tag, err)
	}
	if err := unix.Mount(tag, dev, fsType, unix.MS_RDONLY, opts); err != nil {
		return fmt.Errorf("mount %s %s on %s: %w", fsType, tag, dev, err)
	}
	return nil
}

// loadModule loads the module file p with finit_module.
func loadModule(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("load module: %w", err)
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("load module %s: %w", p, err)
	}
	return nil
}

// shareEnv returns what a sharing guest adds to the payload's environment.
func shareEnv(s Share) []string {
	env := append([]string{}, s.Env...)
	if len(s.PathAppend) > 0 {
		env = append(env, "PATH="+defaultPath+":"+strings.Join(s.PathAppend, ":"))
	}
	return env
}

// staticNodes creates the device nodes of modules that are loaded when the
// node is opened (kmod's static-nodes, which distributions run at boot):
// /dev/net/tun, /dev/fuse, /dev/uinput, ... Opening one makes the kernel
// load its module (char-major-M-N). They come from the modules.alias the
// host generated: a module with both a devname:NAME and a
// char-major-M-N (block-major-M-N) alias gets /dev/NAME. Existing nodes are
// left alone; a bad line is skipped.
func staticNodes(release string) {
	data, err := os.ReadFile(path.Join("/lib/modules", release, "modules.alias"))
	if err != nil {
		return
	}
	type node struct {
		name       string
		block      bool
		major, min uint32
		ok         bool
	}
	nodes := map[string]*node{}
	get := func(mod string) *node {
		if nodes[mod] == nil {
			nodes[mod] = &node{}
		}
		return nodes[mod]
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "alias" {
			continue
		}
		alias, mod := f[1], f[2]
		if name, ok := strings.CutPrefix(alias, "devname:"); ok {
			if path.Clean("/"+name) == "/"+name && !strings.Contains(name, "..") {
				get(mod).name = name
			}
			continue
		}
		for _, kind := range []string{"char-major-", "block-major-"} {
			rest, ok := strings.CutPrefix(alias, kind)
			if !ok {
				continue
			}
			var maj, mi uint32
			if _, err := fmt.Sscanf(rest, "%d-%d", &maj, &mi); err == nil {
				n := get(mod)
				n.block, n.major, n.min, n.ok = kind == "block-major-", maj, mi, true
			}
		}
	}
	for _, n := range nodes {
		if n.name == "" || !n.ok {
			continue
		}
		p := path.Join("/dev", n.name)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		os.MkdirAll(path.Dir(p), 0o755)
		mode := uint32(unix.S_IFCHR | 0o600)
		if n.block {
			mode = unix.S_IFBLK | 0o600
		}
		unix.Mknod(p, mode, int(unix.Mkdev(n.major, n.min)))
	}
}
