package share

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// mergedNamespace returns what makes the C daemon's world, run on the
// locked thread the daemon is started from: a private mount namespace
// (nothing propagates to the host's) where root is a tmpfs holding each
// export under its tag as a read-only bind mount, the tmpfs read-only too.
// The C daemon has no read-only mode: in this namespace its whole tree is
// read-only mounts, so the guest's writes fail with EROFS whatever it
// sends. It is done with mount(2) in-process: mount(8) twice per export
// took 75 ms of the daemon's 100 ms start, which QEMU waits for.
func mergedNamespace(root string, exports []Export) func() error {
	return func() error {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("mount namespace: %w", err)
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("mount namespace: make it private: %w", err)
		}
		if err := unix.Mount("cm-share", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
			return fmt.Errorf("mount the shared root: %w", err)
		}
		for _, e := range exports {
			dst := filepath.Join(root, e.Tag)
			if err := os.Mkdir(dst, 0o755); err != nil {
				return fmt.Errorf("share %s: %w", e.Host, err)
			}
			if err := bindReadOnly(e.Host, dst); err != nil {
				return fmt.Errorf("share %s: %w", e.Host, err)
			}
		}
		if err := unix.Mount("", root, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
			return fmt.Errorf("make the shared root read-only: %w", err)
		}
		return readOnly(root)
	}
}

// bindReadOnly bind-mounts src at dst and makes the bind read-only,
// keeping the source mount's other flags (nosuid, nodev, noexec, atime).
func bindReadOnly(src, dst string) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dst, &st); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY)
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			flags |= f.ms
		}
	}
	if err := unix.Mount("", dst, "", flags, ""); err != nil {
		return fmt.Errorf("make the bind read-only: %w", err)
	}
	return readOnly(dst)
}

// readOnly checks that the mount at p is read-only: the daemon must not
// start on a tree it could write.
func readOnly(p string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return fmt.Errorf("check %s: %w", p, err)
	}
	if st.Flags&unix.ST_RDONLY == 0 {
		return fmt.Errorf("%s is not read-only after remounting it", p)
	}
	return nil
}
