package initramfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
)

// BusyboxPath is where Debian's busybox-static package installs busybox, on
// the host and in the guest.
const BusyboxPath = "/bin/busybox"

// ErrNoBusybox means the host has no static busybox to give the guest.
var ErrNoBusybox = errors.New("busybox-static is not installed; run make deps")

// Busybox returns the files that give a guest a userland: the static busybox
// at host path src as BusyboxPath, and one symbolic link per applet at the
// path busybox itself names (/bin/sh, /usr/bin/awk, ...). It returns an error
// wrapping ErrNoBusybox when src does not exist, and ErrNotStatic when it is
// a dynamically linked busybox (the guest has no loader).
func Busybox(src string) ([]File, error) {
	return BusyboxAs(src, src)
}

// BusyboxAs is Busybox for a busybox that may not run on this host (one
// built for the guest's architecture): the applet links are those that
// lister, a busybox this host runs, names (the same busybox version has the
// same applets); the archive's /bin/busybox is src.
func BusyboxAs(src, lister string) ([]File, error) {
	if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", src, ErrNoBusybox)
	}
	if err := CheckStatic(src); err != nil {
		return nil, fmt.Errorf("busybox: %w (install busybox-static: run make deps)", err)
	}
	if lister != src {
		if err := CheckStatic(lister); err != nil {
			return nil, fmt.Errorf("busybox: %w (install busybox-static: run make deps)", err)
		}
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command(lister, "--list-full")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("list busybox applets: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	files := []File{{Name: BusyboxPath, Source: src, Mode: 0o755}}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		name := path.Clean("/" + strings.TrimSpace(sc.Text()))
		// The guest init owns /init; "linuxrc" is a boot-time relic.
		if name == "/" || name == BusyboxPath || name == "/init" || name == "/linuxrc" {
			continue
		}
		files = append(files, File{Name: name, Link: BusyboxPath})
	}
	if len(files) == 1 {
		return nil, fmt.Errorf("busybox %s lists no applets", src)
	}
	return files, nil
}
