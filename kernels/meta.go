package kernels

import (
	"errors"
	"strings"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels/bzimage"
)

// imageMeta is what is learnt from reading an image once, cached by its hash.
type imageMeta struct {
	KernelVersion string `json:"kernel_version"`
	HasBTF        bool   `json:"has_btf"`
	BTFError      string `json:"btf_error,omitempty"`
	// IKConfig holds the highlights of the config embedded in the image
	// (CONFIG_IKCONFIG), used when the source has no config file.
	IKConfig map[string]string `json:"ikconfig,omitempty"`
}

// metaKey names the meta record of an image; version 2 validates the BTF
// it reports.
func metaKey(sum string) string { return "image-meta-v2 " + sum }

// fillMeta sets the version and BTF fields of img from its bzImage, reading
// the image only the first time a hash is seen.
func (r *Resolver) fillMeta(img *kernel.Kernel) error {
	var m imageMeta
	if _, err := r.cache.GetRecord(metaKey(img.SHA256), &m); err != nil {
		kv, err := ReadVersion(img.Path)
		if err != nil {
			return err
		}
		m.KernelVersion = kv
		vmlinux, err := bzimage.Vmlinux(img.Path)
		if err == nil {
			err = validBTF(vmlinux)
			if cfg := ikconfig(vmlinux); cfg != nil {
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
