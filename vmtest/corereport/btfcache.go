package corereport

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/kernels"
	"github.com/corematrix/corematrix/kernels/cache"
)

// BTFCache keeps the raw BTF of kernel images on disk, one file per image
// named after the image's SHA-256, so that reading a cached kernel's BTF is a
// file read rather than the decompression of a whole kernel (about 100 ms
// for a Debian cloud kernel).
type BTFCache struct {
	// Dir holds the cached BTF blobs. Empty disables the cache.
	Dir string
	// Extract returns the raw BTF of the bzImage at path; nil means
	// kernels.RawBTF.
	Extract func(path string) ([]byte, error)
}

// DefaultBTFCacheDir is where BTF blobs are cached unless told otherwise:
// "btf" in the corematrix cache directory that also holds kernel images
// ($CM_CACHE_DIR, else $XDG_CACHE_HOME/corematrix, else ~/.cache/corematrix).
func DefaultBTFCacheDir() (string, error) {
	dir, err := cache.DefaultDir()
	if err != nil {
		return "", fmt.Errorf("btf cache dir: %w", err)
	}
	return filepath.Join(dir, "btf"), nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Load returns the BTF of the kernel image at path, whose SHA-256 (hex) is
// sum; an empty or malformed sum makes Load hash the file itself. A bzImage's
// BTF comes from the cache when present and is extracted and cached
// otherwise; any other file (a vmlinux ELF, raw BTF such as
// /sys/kernel/btf/vmlinux) is read directly. Requires an image built with
// CONFIG_DEBUG_INFO_BTF (kernels.ErrNoBTF otherwise).
func (c *BTFCache) Load(path, sum string) (*btf.Spec, error) {
	if !kernels.IsBzImage(path) {
		spec, err := btf.LoadSpec(path)
		if err != nil {
			return nil, fmt.Errorf("load btf of %s: %w", path, err)
		}
		return spec, nil
	}
	extract := c.Extract
	if extract == nil {
		extract = kernels.RawBTF
	}
	if c.Dir == "" {
		return parseBTF(extract(path))
	}

	if !sha256Hex.MatchString(sum) {
		var err error
		if sum, err = cache.HashFile(path); err != nil {
			return nil, fmt.Errorf("load btf of %s: %w", path, err)
		}
	}
	blob := filepath.Join(c.Dir, sum+".btf")
	if raw, err := os.ReadFile(blob); err == nil {
		if spec, err := parseBTF(raw, nil); err == nil {
			return spec, nil
		}
		// A corrupt blob is replaced below.
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load btf of %s: %w", path, err)
	}

	raw, err := extract(path)
	if err != nil {
		return nil, err
	}
	spec, err := parseBTF(raw, nil)
	if err != nil {
		return nil, fmt.Errorf("load btf of %s: %w", path, err)
	}
	if err := writeAtomic(blob, raw); err != nil {
		return nil, fmt.Errorf("cache btf of %s: %w", path, err)
	}
	return spec, nil
}

func parseBTF(raw []byte, err error) (*btf.Spec, error) {
	if err != nil {
		return nil, err
	}
	return btf.LoadSpecFromReader(bytes.NewReader(raw))
}

// writeAtomic writes data to path through a temporary file and a rename, so
// that concurrent readers never see a partial blob.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".btf-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
