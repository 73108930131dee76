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
	if _, err := os.Lstat("/bin/busybox"); err == nil {
		if err := os.Rename("/bin/busybox", keptBusybox); err != nil {
			return fmt.Errorf("keep busybox: %w", err)
		}
		if err := os.Symlink(keptBusybox, ModprobeBin); err != nil {
			return fmt.Errorf("keep busybox: %w", err)
		}
	}
	for _, l := range s.Links {
		if err := os.RemoveAll(l.Path); err != nil {
			return fmt.Errorf("link %s: %w", l.Path, err)
		}
		if err := os.Symlink(l.Target, l.Path); err != nil {
			return fmt.Errorf("link %s: %w", l.Path, err)
		}
	}
	opts := ""
	if s.FSType == "9p" {
		opts = "trans=virtio,version=9p2000.L,msize=512000"
	}
	modules := false
	devices := map[string]bool{}
	for _, m := range s.Mounts {
		name := m.Sub
		if name == "" {
			name = m.Tag
		}
		if !path.IsAbs(m.Path) || strings.ContainsAny(m.Tag, "/,:") || strings.ContainsAny(m.Sub, "/,:") {
			return fmt.Errorf("share: bad mount %q/%q at %q", m.Tag, m.Sub, m.Path)
		}
		dev := path.Join(shareRO, m.Tag)
		if !devices[m.Tag] {
			devices[m.Tag] = true
			if err := os.MkdirAll(dev, 0o755); err != nil {
				return fmt.Errorf("mount %s: %w", m.Tag, err)
			}
			if err := unix.Mount(m.Tag, dev, s.FSType, unix.MS_RDONLY, opts); err != nil {
				return fmt.Errorf("mount %s %s on %s: %w", s.FSType, m.Tag, dev, err)
			}
		}
		lower := path.Join(dev, m.Sub)
		if name == modulesMount {
			modules = true
		}
		if !m.Overlay {
			if err := os.MkdirAll(m.Path, 0o755); err != nil {
				return fmt.Errorf("mount %s: %w", m.Path, err)
			}
			if err := unix.Mount(lower, m.Path, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind %s on %s: %w", lower, m.Path, err)
			}
			continue
		}
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
	}
	if modules {
		if _, err := os.Lstat(ModprobeBin); err == nil {
			if err := os.WriteFile(ModprobePath, []byte(ModprobeBin+"\n"), 0); err != nil {
				return fmt.Errorf("set modprobe: %w", err)
			}
		}
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
