package share

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Memory is a virtiofs guest's RAM: vhost-user needs it in a file that
// QEMU and the daemons both map.
//
// Its page size decides the boot's speed under TCG, which touches guest
// memory through the host's TLB: packed boots get private anonymous memory,
// which QEMU asks to be transparent huge pages (2 MiB), while a memfd is
// shmem, whose huge pages hosts leave off (shmem_enabled=never on Debian),
// so every page is 4 KiB. On 6.1 under TCG that made a boot 0.2–0.6 s
// slower, the same as packed boots with THP turned off; 53 000 host page
// faults against 14 000. So the RAM is a file on a tmpfs of its own with
// huge=within_size, which needs no host setting: the tmpfs is made with
// fsopen/fsmount (Linux 5.2, CAP_SYS_ADMIN: root, which the C daemon needs
// anyway) and attached to no mount table, and the file is created unnamed
// (O_TMPFILE). Nothing appears in any mount table and nothing is left
// behind whatever ends vmtest: the memory is freed with the last process
// that maps it. QEMU opens it as /dev/fd/N and maps it 2 MiB aligned.
// Where the host refuses (not root, an older kernel, no THP), the RAM is a
// memfd, as before, and the boot is only slower.
type Memory struct {
	// File is the tmpfs file; nil means a memfd.
	File *os.File
	mib  int
}

// NewMemory returns the RAM backing of a guest of mib MiB: a file on a
// private huge-page tmpfs when the host allows one (see Memory), else a
// memfd with the reason in err (the Memory is usable either way).
func NewMemory(mib int) (*Memory, error) {
	m := &Memory{mib: mib}
	f, err := hugeFile(mib)
	if err != nil {
		return m, fmt.Errorf("guest RAM in a memfd, 4 KiB pages: %w", err)
	}
	m.File = f
	return m, nil
}

// hugeFile creates an unnamed file on a tmpfs of its own, huge pages within
// its size, mounted nowhere, with room for mib MiB.
func hugeFile(mib int) (*os.File, error) {
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("huge-page tmpfs: fsopen: %w", err)
	}
	defer unix.Close(fsfd)
	for _, o := range [][2]string{{"huge", "within_size"}, {"size", strconv.Itoa(mib+2) + "m"}, {"nr_inodes", "4"}, {"mode", "0700"}} {
		if err := unix.FsconfigSetString(fsfd, o[0], o[1]); err != nil {
			return nil, fmt.Errorf("huge-page tmpfs: %s=%s: %w", o[0], o[1], err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fmt.Errorf("huge-page tmpfs: create: %w", err)
	}
	mnt, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOEXEC|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return nil, fmt.Errorf("huge-page tmpfs: fsmount: %w", err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("huge-page tmpfs: create the file: %w", err)
	}
	return os.NewFile(uintptr(fd), "guest-ram"), nil
}

// Huge reports whether the RAM is on huge pages.
func (m *Memory) Huge() bool { return m.File != nil }

// Args returns QEMU's arguments for the RAM backend; fd is the descriptor
// QEMU gets m.File as (ignored for a memfd). -machine memory-backend= is
// merged with the architecture's -machine (a NUMA node would cost the
// kernel's NUMA setup).
func (m *Memory) Args(fd int) []string {
	size := strconv.Itoa(m.mib) + "M"
	obj := "memory-backend-memfd,id=cm-mem,size=" + size + ",share=on"
	if m.File != nil {
		obj = "memory-backend-file,id=cm-mem,size=" + size + ",share=on,align=2M,mem-path=/dev/fd/" + strconv.Itoa(fd)
	}
	return []string{"-object", obj, "-machine", "memory-backend=cm-mem"}
}

// Close closes vmtest's descriptor of the file; QEMU keeps its own.
func (m *Memory) Close() {
	if m != nil && m.File != nil {
		m.File.Close()
	}
}
