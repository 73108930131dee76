package corereport

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/internal/atomicfile"
	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels/kallsyms"
)

// BTFCache keeps the raw BTF of kernel images on disk, one file per image
// named after the image's SHA-256, so that reading a cached kernel's BTF is a
// file read rather than the decompression of a whole kernel (about 100 ms
// for a Debian cloud kernel).
//
// It knows nothing of kernel image formats: the caller passes in how to tell
// an image, extract its BTF and hash it (cmd/vmtest wires the kernels
// package). A zero BTFCache reads only BTF and ELF files, uncached.
type BTFCache struct {
	// Dir holds the cached BTF blobs. Empty disables the cache.
	Dir string
	// IsImage reports whether path is a kernel image whose BTF Extract
	// reads; any other file is read with btf.LoadSpec (a vmlinux ELF, raw
	// BTF such as /sys/kernel/btf/vmlinux). Nil: no file is an image.
	IsImage func(path string) bool
	// Extract returns the raw BTF of the kernel image at path.
	Extract func(path string) ([]byte, error)
	// Hash returns the hex SHA-256 of the file at path, for Load calls that
	// bring no sum.
	Hash func(path string) (string, error)

	// Funcs returns the kallsyms functions of the kernel image at path in
	// the text form of kallsyms.Funcs (kernels.ImageFuncs); nil: unknown.
	Funcs func(path string) ([]byte, error)
	// EmbeddedConfig returns the config a kernel image carries
	// (CONFIG_IKCONFIG), for kernels without a config file; nil: none.
	EmbeddedConfig func(path string) ([]byte, error)
	// ParseConfig reads a kernel config file into option -> value
	// (kernels.ParseConfig); nil: configs are not read.
	ParseConfig func(data []byte) map[string]string
	// Warn, when set, hears what of a kernel's facts could not be read.
	Warn func(format string, args ...any)

	mu sync.Mutex
	// specs are the images' parsed BTF by SHA-256: one object after
	// another is predicted against the same kernels, and a parsed spec
	// keeps what its lookups decoded.
	specs map[string]*btf.Spec
}

// Facts reads what the prediction needs of kernel k besides its BTF (see
// Facts): its config (k.ConfigPath, else the config its image embeds) and
// its kallsyms functions, both cached in Dir next to the BTF. What cannot be
// read stays nil (unknown), and Warn hears why. The running kernel (Source
// "host") and non-image files have no facts.
func (c *BTFCache) Facts(k kernel.Kernel) *Facts {
	f := &Facts{}
	if k.Source == "host" || c.IsImage == nil || !c.IsImage(k.Path) {
		return f
	}
	warn := func(format string, args ...any) {
		if c.Warn != nil {
			c.Warn(format, args...)
		}
	}
	if c.ParseConfig != nil {
		var cfg []byte
		var err error
		switch {
		case k.ConfigPath != "":
			cfg, err = os.ReadFile(k.ConfigPath)
		case c.EmbeddedConfig != nil:
			cfg, err = c.Cached(k.Path, k.SHA256, "config", c.EmbeddedConfig)
		}
		switch {
		case err != nil:
			warn("config of %s: %v", k.Name, err)
		case cfg != nil:
			f.Config = c.ParseConfig(cfg)
		}
	}
	if c.Funcs != nil {
		raw, err := c.Cached(k.Path, k.SHA256, kallsyms.FuncsFormat, c.Funcs)
		if err == nil {
			var fs kallsyms.Funcs
			if err = fs.UnmarshalText(raw); err == nil {
				f.Funcs = &fs
			}
		}
		if err != nil {
			warn("kallsyms of %s: %v", k.Name, err)
		}
	}
	return f
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Load returns the BTF of the file at path, whose SHA-256 (hex) is sum; an
// empty or malformed sum makes Load hash the file itself. A kernel image's
// BTF comes from the cache when present and is extracted and cached
// otherwise; any other file is read directly. An image must be built with
// CONFIG_DEBUG_INFO_BTF; what Extract returns otherwise is passed on.
func (c *BTFCache) Load(path, sum string) (*btf.Spec, error) {
	if c.IsImage == nil || !c.IsImage(path) {
		spec, err := btf.LoadSpec(path)
		if err != nil {
			return nil, fmt.Errorf("load btf of %s: %w", path, err)
		}
		return spec, nil
	}
	if c.Extract == nil {
		return nil, fmt.Errorf("load btf of %s: no way to extract BTF from a kernel image", path)
	}
	if c.Dir == "" {
		return parseBTF(c.Extract(path))
	}

	if !sha256Hex.MatchString(sum) {
		if c.Hash == nil {
			return nil, fmt.Errorf("load btf of %s: no SHA-256 given and no way to compute one", path)
		}
		var err error
		if sum, err = c.Hash(path); err != nil {
			return nil, fmt.Errorf("load btf of %s: %w", path, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if spec := c.specs[sum]; spec != nil {
		return spec, nil
	}
	spec, err := c.loadImage(path, sum)
	if err != nil {
		return nil, err
	}
	if c.specs == nil {
		c.specs = map[string]*btf.Spec{}
	}
	c.specs[sum] = spec
	return spec, nil
}

// loadImage reads the BTF of the image at path, whose SHA-256 is sum, from
// Dir, else extracts it and keeps it there.
func (c *BTFCache) loadImage(path, sum string) (*btf.Spec, error) {
	blob := filepath.Join(c.Dir, sum+".btf")
	if raw, err := os.ReadFile(blob); err == nil {
		if spec, err := parseBTF(raw, nil); err == nil {
			return spec, nil
		}
		// A corrupt blob is replaced below.
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load btf of %s: %w", path, err)
	}

	raw, err := c.Extract(path)
	if err != nil {
		return nil, err
	}
	spec, err := parseBTF(raw, nil)
	if err != nil {
		return nil, fmt.Errorf("load btf of %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(blob, raw, 0o644); err != nil {
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

// Cached returns what extract reads from the kernel image at path (whose
// SHA-256 is sum, empty: hashed), kept in Dir as SUM.ext so that only the
// first call decompresses the image: kernel facts such as its kallsyms
// functions (ext "funcs") or embedded config ("config"). Without Dir it calls
// extract every time.
func (c *BTFCache) Cached(path, sum, ext string, extract func(path string) ([]byte, error)) ([]byte, error) {
	if c.Dir == "" {
		return extract(path)
	}
	if !sha256Hex.MatchString(sum) {
		if c.Hash == nil {
			return nil, fmt.Errorf("cache %s of %s: no SHA-256 given and no way to compute one", ext, path)
		}
		var err error
		if sum, err = c.Hash(path); err != nil {
			return nil, fmt.Errorf("cache %s of %s: %w", ext, path, err)
		}
	}
	blob := filepath.Join(c.Dir, sum+"."+ext)
	if raw, err := os.ReadFile(blob); err == nil {
		return raw, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("cache %s of %s: %w", ext, path, err)
	}
	raw, err := extract(path)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(blob, raw, 0o644); err != nil {
		return nil, fmt.Errorf("cache %s of %s: %w", ext, path, err)
	}
	return raw, nil
}
