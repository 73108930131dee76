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
	shareRO      = "/corematrix/ro"        // each export, read-only, by tag
	shareRW      = "/corematrix/rw"        // a tmpfs: the overlays' upper and work dirs
	asideDir     = "/corematrix/initramfs" // what the host's links replaced
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
	if err := keepBusybox(s.Links); err != nil {
		return err
	}
	m := &shareMounter{share: s, devices: map[string]string{}, covered: s.coveredPoints()}
	for _, mt := range s.Mounts {
		if err := m.mount(mt); err != nil {
			return err
		}
	}
	if m.modules {
		makeNodes(s.Nodes)
		if _, err := os.Lstat(ModprobeBin); err == nil {
			if err := os.WriteFile(ModprobePath, []byte(ModprobeBin+"\n"), 0); err != nil {
				return fmt.Errorf("set modprobe: %w", err)
			}
		}
	}
	return nil
}

// keepBusybox makes the host's links (/bin -> usr/bin), moving what the
// initramfs has at a link's path aside, whole (busybox's /bin, /sbin: one
// rename instead of an unlink per applet link, 10 ms under TCG), and
// points ModprobeBin at busybox, which stays in the moved /bin.
func keepBusybox(links []Link) error {
	if err := os.Mkdir(asideDir, 0o755); err != nil {
		return fmt.Errorf("keep busybox: %w", err)
	}
	for _, l := range links {
		aside := path.Join(asideDir, strings.ReplaceAll(strings.TrimPrefix(l.Path, "/"), "/", "_"))
		if err := os.Rename(l.Path, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("link %s: %w", l.Path, err)
		}
		if err := os.Symlink(l.Target, l.Path); err != nil {
			return fmt.Errorf("link %s: %w", l.Path, err)
		}
	}
	bb := path.Join(asideDir, "bin", "busybox")
	if _, err := os.Lstat(bb); err != nil {
		// /bin is no link on this host: its export covers /bin.
		bb = path.Join(asideDir, "busybox")
		if err := os.Rename("/bin/busybox", bb); errors.Is(err, os.ErrNotExist) {
			return nil
		} else if err != nil {
			return fmt.Errorf("keep busybox: %w", err)
		}
	}
	if err := os.Symlink(bb, ModprobeBin); err != nil {
		return fmt.Errorf("keep busybox: %w", err)
	}
	return nil
}

// shareMounter mounts a Share's exports. Each device is mounted once,
// read-only, under shareRO. The exports that are directories of one device
// (the merged layout) share one overlay of the whole device, and each is a
// bind mount of its directory of that overlay: one overlay mount instead of
// one per export (each costs lookups through the daemon and the overlay's
// checks of its upper directory). Writes go to the tmpfs either way and
// never reach the host.
type shareMounter struct {
	share Share
	// devices maps a tag to where its device is mounted.
	devices map[string]string
	// overlays maps a tag to the overlay of its whole device.
	overlays map[string]string
	// covered are the mount points inside overlays (see premake).
	covered []covered
	modules bool
}

func (sm *shareMounter) mount(m Mount) error {
	name := m.Sub
	if name == "" {
		name = m.Tag
	}
	if !path.IsAbs(m.Path) || strings.ContainsAny(m.Tag, "/,:") || strings.ContainsAny(m.Sub, "/,:") || m.Tag == "" {
		return fmt.Errorf("share: bad mount %q/%q at %q", m.Tag, m.Sub, m.Path)
	}
	if name == modulesMount {
		sm.modules = true
	}
	dev, err := sm.device(m.Tag)
	if err != nil {
		return err
	}
	switch {
	case !m.Overlay:
		return bind(path.Join(dev, m.Sub), m.Path)
	case m.Sub == "":
		sm.premake(m.Tag, dev, path.Join(shareRW, name, "upper"))
		return overlay(dev, path.Join(shareRW, name), m.Path)
	}
	if _, ok := sm.overlays[m.Tag]; !ok {
		sm.premake(m.Tag, dev, path.Join(shareRW, m.Tag, "upper"))
	}
	ov, err := sm.deviceOverlay(m.Tag, dev)
	if err != nil {
		return err
	}
	return bind(path.Join(ov, m.Sub), m.Path)
}

// device mounts the device tag read-only the first time it is asked for.
func (sm *shareMounter) device(tag string) (string, error) {
	if dev, ok := sm.devices[tag]; ok {
		return dev, nil
	}
	dev := path.Join(shareRO, tag)
	if err := os.MkdirAll(dev, 0o755); err != nil {
		return "", fmt.Errorf("mount %s: %w", tag, err)
	}
	opts := ""
	if sm.share.FSType == "9p" {
		opts = "trans=virtio,version=9p2000.L,msize=512000"
	}
	if err := unix.Mount(tag, dev, sm.share.FSType, unix.MS_RDONLY, opts); err != nil {
		return "", fmt.Errorf("mount %s %s on %s: %w", sm.share.FSType, tag, dev, err)
	}
	sm.devices[tag] = dev
	return dev, nil
}

// premake makes, in the upper directory of device tag's overlay before it
// is mounted (dev its lower device, upper its upper directory), the mount
// points inside its exports of the binds without an overlay that its lower
// lacks (/lib/modules on a host without kernel modules, as in containers):
// made through the mounted overlay, each would copy its parent directories
// up through the daemon, 10-20 ms under TCG; made first, the overlay merges
// them. A mount point whose path meets a lower non-directory is left to
// the bind (its MkdirAll fails there as before).
func (sm *shareMounter) premake(tag, dev, upper string) {
	for _, c := range sm.covered {
		if c.Overlay.Tag != tag {
			continue
		}
		p := path.Join(c.Overlay.Sub, c.Rel)
		if !lowerHas(dev, p) {
			os.MkdirAll(path.Join(upper, p), 0o755)
		}
	}
}

// lowerHas reports whether dir has the directory p, or a non-directory
// somewhere on p's path (which an upper directory must not hide).
func lowerHas(dir, p string) bool {
	for c := range strings.SplitSeq(p, "/") {
		dir = path.Join(dir, c)
		fi, err := os.Lstat(dir)
		if err != nil {
			return false
		}
		if !fi.IsDir() {
			return true
		}
	}
	return true
}

// deviceOverlay mounts the overlay of the whole device tag (mounted at dev)
// the first time it is asked for.
func (sm *shareMounter) deviceOverlay(tag, dev string) (string, error) {
	if ov, ok := sm.overlays[tag]; ok {
		return ov, nil
	}
	ov := path.Join(shareRW, tag, "merged")
	if err := overlay(dev, path.Join(shareRW, tag), ov); err != nil {
		return "", err
	}
	if sm.overlays == nil {
		sm.overlays = map[string]string{}
	}
	sm.overlays[tag] = ov
	return ov, nil
}

// overlay mounts lower with a tmpfs upper directory (under rw) at dst.
func overlay(lower, rw, dst string) error {
	upper, work := path.Join(rw, "upper"), path.Join(rw, "work")
	for _, d := range []string{upper, work, dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("overlay %s: %w", dst, err)
		}
	}
	o := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", dst, "overlay", 0, o); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", dst, err)
	}
	return nil
}

// bind bind-mounts src at dst, creating dst.
func bind(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("mount %s: %w", dst, err)
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", src, dst, err)
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

// makeNodes creates the device nodes of modules that are loaded when the
// node is opened (kmod's static-nodes): /dev/net/tun, /dev/fuse, ...
// Existing nodes are left alone.
func makeNodes(nodes []Node) {
	for _, n := range nodes {
		p := path.Join("/dev", n.Name)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		os.MkdirAll(path.Dir(p), 0o755)
		mode := uint32(unix.S_IFCHR | 0o600)
		if n.Block {
			mode = unix.S_IFBLK | 0o600
		}
		unix.Mknod(p, mode, int(unix.Mkdev(n.Major, n.Minor)))
	}
}
