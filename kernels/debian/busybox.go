package debian

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// BusyboxPackage is the Debian package of the static busybox every guest
// gets as its userland.
const BusyboxPackage = "busybox-static"

// MaxBusybox bounds the busybox binary taken from a package.
const MaxBusybox = 16 << 20

// ErrNoBusyboxInDeb is returned when a busybox-static package holds no
// bin/busybox.
var ErrNoBusyboxInDeb = errors.New("package holds no /bin/busybox or /usr/bin/busybox")

func busyboxKey(sum string) string { return "debian-busybox " + sum }

// Busybox returns the path of the static busybox for arch from suite's
// busybox-static package (the newest version there), downloaded and verified
// like a kernel package (InRelease, Packages, .deb hashes) and cached by
// the package's SHA-256. It serves guests whose architecture the host's own
// busybox is not built for.
func (a *Archive) Busybox(ctx context.Context, suite, arch string) (string, error) {
	idx, err := a.IndexFor(ctx, suite, arch)
	if err != nil {
		return "", err
	}
	var best *Package
	for i, p := range idx.Busybox {
		if best == nil || CompareVersions(p.Version, best.Version) > 0 {
			best = &idx.Busybox[i]
		}
	}
	if best == nil {
		return "", fmt.Errorf("suite %s (%s) has no %s package", suite, arch, BusyboxPackage)
	}
	p := *best
	if path, ok := a.cachedBusybox(p); ok {
		return path, nil
	}
	unlock, err := a.Cache.Lock(ctx, "debian-deb-"+p.SHA256)
	if err != nil {
		return "", err
	}
	defer unlock()
	if path, ok := a.cachedBusybox(p); ok {
		return path, nil
	}
	tmp, err := a.Download(ctx, p)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", p.Name, p.Version, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	w, err := a.Cache.Create()
	if err != nil {
		return "", err
	}
	defer w.Abort()
	if err := ExtractBusybox(tmp, w); err != nil {
		return "", fmt.Errorf("extract %s: %w", p.Filename, err)
	}
	sum, _, err := w.Commit("")
	if err != nil {
		return "", err
	}
	if err := a.Cache.PutRecord(busyboxKey(p.SHA256), sum); err != nil {
		return "", err
	}
	return a.Cache.Blob(sum)
}

// cachedBusybox returns the cached busybox of package p when it is intact.
func (a *Archive) cachedBusybox(p Package) (string, bool) {
	var sum string
	if _, err := a.Cache.GetRecord(busyboxKey(p.SHA256), &sum); err != nil {
		return "", false
	}
	path, err := a.Cache.Blob(sum)
	return path, err == nil
}

// ExtractBusybox reads a busybox-static .deb from r and copies its busybox
// binary (bin/busybox, or usr/bin/busybox in a merged-/usr layout) to w, at
// most MaxBusybox bytes. The package's hash must be verified first.
func ExtractBusybox(r io.Reader, w io.Writer) error {
	errFound := errors.New("found")
	err := WalkData(r, func(name string, size int64, content io.Reader) error {
		if name != "bin/busybox" && name != "usr/bin/busybox" {
			return nil
		}
		if err := copyMember(w, content, &tar.Header{Name: name, Size: size}, MaxBusybox); err != nil {
			return err
		}
		return errFound
	})
	switch {
	case errors.Is(err, errFound):
		return nil
	case err == nil:
		return ErrNoBusyboxInDeb
	}
	return err
}

// WalkData calls fn for every regular file of the .deb read from r (the
// members of its data.tar), with the file's path without a leading slash and
// its content; the decompressed tar may hold at most MaxDataTar bytes. The
// package's hash must be verified first. An error of fn ends the walk.
func WalkData(r io.Reader, fn func(name string, size int64, content io.Reader) error) error {
	data, name, err := dataMember(r)
	if err != nil {
		return err
	}
	dec, closeDec, err := decompressor(data, name)
	if err != nil {
		return err
	}
	defer closeDec()
	tr := tar.NewReader(LimitReader(dec, MaxDataTar, "decompressed "+name))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := fn(strings.TrimPrefix(path.Clean("/"+h.Name), "/"), h.Size, tr); err != nil {
			return err
		}
	}
}
