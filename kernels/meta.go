package kernels

import (
	"errors"
	"strings"

	"github.com/corematrix/corematrix/kernel"
)

// imageMeta is what is learnt from reading an image once, cached by its hash.
type imageMeta struct {
	KernelVersion string `json:"kernel_version"`
	// Arch is the image's architecture (ImageArch).
	Arch     string `json:"arch"`
	HasBTF   bool   `json:"has_btf"`
	BTFError string `json:"btf_error,omitempty"`
	// IKConfig holds the highlights of the config embedded in the image
	// (CONFIG_IKCONFIG), used when the source has no config file.
	IKConfig map[string]string `json:"ikconfig,omitempty"`
}

// metaKey names the meta record of an image; version 2 validates the BTF
// it reports, version 3 records the architecture.
func metaKey(sum string) string { return "image-meta-v3 " + sum }

// fillMeta sets the version and BTF fields of img from its image, reading
// the image only the first time a hash is seen.
func (r *Resolver) fillMeta(img *kernel.Kernel) error {
	var m imageMeta
	if _, err := r.cache.GetRecord(metaKey(img.SHA256), &m); err != nil {
		kv, err := ReadVersion(img.Path)
		if err != nil {
			return err
		}
		m.KernelVersion = kv
		data, arch, err := kernelBytes(img.Path)
		m.Arch = arch
		if err == nil {
			err = validBTF(data, arch)
			if cfg := ikconfig(data); cfg != nil {
				m.IKConfig = highlights(ParseConfig(cfg))
			}
		}
		if err == nil {
			m.HasBTF = true
		} else if !errors.Is(err, ErrNoBTF) {
			m.BTFError = err.Error()
		}
		if err := r.cache.PutRecord(metaKey(img.SHA256), m); err != nil {
			return err
		}
	}
	// The image's own architecture; the resolver compares it with the one
	// the name asks for.
	img.Arch = kernel.Arch(m.Arch)
	img.KernelVersion = m.KernelVersion
	img.HasBTF = m.HasBTF
	if img.Config == nil {
		img.Config = m.IKConfig
	}
	if f := strings.Fields(m.KernelVersion); len(f) > 0 && img.Release == "" {
		img.Release = f[0]
	}
	if img.Version == "" {
		img.Version = versionFromRelease(img.Release)
	}
	return nil
}

// ErrArchMismatch means a kernel image is built for another architecture
// than the kernel's name asks for (a path to an arm64 Image without the
// /arm64 suffix).
var ErrArchMismatch = errors.New("kernel image of another architecture")
