package kernels

import (
	"errors"
	"strings"
)

// imageMeta is what is learnt from reading an image once, cached by its hash.
type imageMeta struct {
	KernelVersion string `json:"kernel_version"`
	HasBTF        bool   `json:"has_btf"`
	BTFError      string `json:"btf_error,omitempty"`
}

func metaKey(sum string) string { return "image-meta " + sum }

// fillMeta sets the version and BTF fields of img from its bzImage, reading
// the image only the first time a hash is seen.
func (r *Resolver) fillMeta(img *Image) error {
	var m imageMeta
	if _, err := r.cache.GetRecord(metaKey(img.SHA256), &m); err != nil {
		kv, err := ReadVersion(img.Path)
		if err != nil {
			return err
		}
		m.KernelVersion = kv
		if _, err := RawBTF(img.Path); err == nil {
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
	if f := strings.Fields(m.KernelVersion); len(f) > 0 && img.Release == "" {
		img.Release = f[0]
	}
	if img.Version == "" {
		img.Version = versionFromRelease(img.Release)
	}
	return nil
}
