package debian

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/corematrix/corematrix/kernels/bzimage"
	"github.com/corematrix/corematrix/kernels/modules"
)

// ErrNoKernelInDeb is returned when a .deb holds no kernel image.
var ErrNoKernelInDeb = errors.New("package holds no kernel image (/boot/vmlinuz-* or /usr/lib/modules/*/vmlinuz)")

// KernelFiles names the kernel files found in a .deb.
type KernelFiles struct {
	// Vmlinuz and Config are the paths inside the package, empty when absent.
	Vmlinuz string
	Config  string
}

// kernelFile reports which kernel file a path inside a package is: "vmlinuz",
// "config" or "".
func kernelFile(name string) string {
	parts := strings.Split(strings.TrimPrefix(path.Clean("/"+name), "/"), "/")
	var base string
	switch {
	case len(parts) == 2 && parts[0] == "boot":
		switch {
		case strings.HasPrefix(parts[1], "vmlinuz-"):
			return "vmlinuz"
		case strings.HasPrefix(parts[1], "config-"):
			return "config"
		}
		return ""
	case len(parts) == 5 && parts[0] == "usr" && parts[1] == "lib" && parts[2] == "modules":
		base = parts[4] // usr/lib/modules/<release>/vmlinuz (the 7.x layout)
	case len(parts) == 4 && parts[0] == "lib" && parts[1] == "modules":
		base = parts[3]
	}
	if base == "vmlinuz" || base == "config" {
		return base
	}
	return ""
}

// ExtractKernel reads a .deb from r and copies its kernel image to vmlinuz and
// its kernel config, if it has one, to config. It stops reading once both are
// found, so callers must verify the package's hash before calling it.
func ExtractKernel(r io.Reader, vmlinuz, config io.Writer) (KernelFiles, error) {
	return ExtractKernelModules(r, vmlinuz, config, nil)
}

// ExtractKernelModules is ExtractKernel that also hands every file of the
// package's modules tree to mods (when not nil), reading the whole package.
func ExtractKernelModules(r io.Reader, vmlinuz, config io.Writer, mods *modules.Builder) (KernelFiles, error) {
	var kf KernelFiles
	data, name, err := dataMember(r)
	if err != nil {
		return kf, err
	}
	dec, closeDec, err := decompressor(data, name)
	if err != nil {
		return kf, err
	}
	defer closeDec()
	tr := tar.NewReader(LimitReader(dec, MaxDataTar, "decompressed "+name))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return kf, fmt.Errorf("read %s: %w", name, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if mods != nil && modules.Wants(h.Name) {
			if err := mods.Add(h.Name, h.Size, tr); err != nil {
				return kf, fmt.Errorf("kernel modules: %w", err)
			}
			continue
		}
		switch kernelFile(h.Name) {
		case "vmlinuz":
			if kf.Vmlinuz != "" {
				return kf, fmt.Errorf("package holds two kernel images: %s and %s", kf.Vmlinuz, h.Name)
			}
			if err := copyMember(vmlinuz, tr, h, bzimage.MaxImage); err != nil {
				return kf, err
			}
			kf.Vmlinuz = h.Name
		case "config":
			if kf.Config == "" {
				if err := copyMember(config, tr, h, bzimage.MaxConfig); err != nil {
					return kf, err
				}
				kf.Config = h.Name
			}
		}
		if kf.Vmlinuz != "" && kf.Config != "" && mods == nil {
			break
		}
	}
	if kf.Vmlinuz == "" && kf.Config == "" {
		return kf, ErrNoKernelInDeb
	}
	return kf, nil
}

// MaxDataTar bounds the decompressed data.tar of a package (a kernel
// package holds about 100 MiB of modules), so a compression bomb ends in an
// error rather than hours of decompression. A variable for tests.
var MaxDataTar int64 = 4 << 30

// maxWindow bounds the zstd window a package may ask for (dpkg uses 8 MiB
// at most; Debian builds ask for less).
const maxWindow = 128 << 20

// checkXZ refuses an xz stream whose first block asks for a dictionary over
// bzimage.MaxDict, before the decoder allocates it.
func checkXZ(br *bufio.Reader) error {
	head, _ := br.Peek(12 + 1024)
	if d, ok := bzimage.XZDictSize(head); ok && d > bzimage.MaxDict {
		return fmt.Errorf("xz stream asks for a %d-byte dictionary, more than the limit of %d: %w", d, bzimage.MaxDict, ErrTooLarge)
	}
	return nil
}

// copyMember copies the tar member h to w, refusing (before copying) one
// larger than max bytes.
func copyMember(w io.Writer, r io.Reader, h *tar.Header, max int64) error {
	if h.Size > max {
		return fmt.Errorf("extract %s: %d bytes, more than the limit of %d: %w", h.Name, h.Size, max, ErrTooLarge)
	}
	if _, err := io.CopyN(w, r, h.Size); err != nil {
		return fmt.Errorf("extract %s: %w", h.Name, err)
	}
	return nil
}

// dataMember walks the ar archive of a .deb to its data.tar member.
func dataMember(r io.Reader) (io.Reader, string, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "!<arch>\n" {
		return nil, "", errors.New("not a .deb (no ar archive magic)")
	}
	hdr := make([]byte, 60)
	for {
		if _, err := io.ReadFull(br, hdr); err != nil {
			if err == io.EOF {
				return nil, "", errors.New("not a .deb: no data.tar member")
			}
			return nil, "", fmt.Errorf("read ar header: %w", err)
		}
		if string(hdr[58:60]) != "`\n" {
			return nil, "", errors.New("corrupt ar header")
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, "", fmt.Errorf("corrupt ar member size %q", hdr[48:58])
		}
		if strings.HasPrefix(name, "data.tar") {
			return io.LimitReader(br, size), name, nil
		}
		if _, err := io.CopyN(io.Discard, br, size+size%2); err != nil {
			return nil, "", fmt.Errorf("skip ar member %s: %w", name, err)
		}
	}
}

// decompressor returns a reader of the tar stream in a data.tar.* member.
func decompressor(r io.Reader, name string) (io.Reader, func(), error) {
	nop := func() {}
	switch path.Ext(name) {
	case ".tar":
		return r, nop, nil
	case ".xz":
		br := bufio.NewReaderSize(r, 1<<20)
		if err := checkXZ(br); err != nil {
			return nil, nop, err
		}
		x, err := xz.NewReader(br)
		return x, nop, err
	case ".zst":
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow))
		if err != nil {
			return nil, nop, err
		}
		return z, z.Close, nil
	case ".gz":
		g, err := gzip.NewReader(r)
		return g, nop, err
	case ".bz2":
		return bzip2.NewReader(r), nop, nil
	}
	return nil, nop, fmt.Errorf("unsupported .deb member %s", name)
}

// ExtractKernelBytes is ExtractKernel into memory, for tests and small packages.
func ExtractKernelBytes(r io.Reader) (vmlinuz, config []byte, kf KernelFiles, err error) {
	var v, c bytes.Buffer
	kf, err = ExtractKernel(r, &v, &c)
	return v.Bytes(), c.Bytes(), kf, err
}
