// Package oci fetches kernel images from OCI images in the ci-kernels layout
// (ghcr.io/cilium/ci-kernels): a filesystem with the bzImage at /boot/vmlinuz
// and, optionally, its config at /boot/config.
package oci

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/corematrix/corematrix/kernels/cache"
	"github.com/corematrix/corematrix/kernels/progress"
)

// ErrNoKernel is returned for an image that has no /boot/vmlinuz.
var ErrNoKernel = errors.New("image has no /boot/vmlinuz")

// Platform is the platform pulled from multi-platform images.
var Platform = v1.Platform{OS: "linux", Architecture: "amd64"}

// Fetched is a kernel extracted from an OCI image into the cache.
type Fetched struct {
	// Digest is the image manifest digest the tag resolved to.
	Digest       string `json:"digest"`
	ImageSHA256  string `json:"image_sha256"`
	ConfigSHA256 string `json:"config_sha256,omitempty"`
}

func recordKey(digest string) string { return "oci-image " + digest }

// Cached returns the kernel of the image with the given manifest digest when
// the cache holds it intact, without touching the network.
func Cached(c *cache.Cache, digest string) (*Fetched, bool) {
	var f Fetched
	if _, err := c.GetRecord(recordKey(digest), &f); err != nil {
		return nil, false
	}
	if _, err := c.Blob(f.ImageSHA256); err != nil {
		return nil, false
	}
	if f.ConfigSHA256 != "" {
		if _, err := c.Blob(f.ConfigSHA256); err != nil {
			return nil, false
		}
	}
	return &f, true
}

// Fetch resolves ref (a tag or digest reference) for linux/amd64 and returns
// its kernel, extracting it into the cache unless already there. Credentials
// come from the Docker config (docker login), anonymous otherwise.
func Fetch(ctx context.Context, c *cache.Cache, ref string, p *progress.Reporter, opts ...remote.Option) (*Fetched, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("oci reference %q: %w", ref, err)
	}
	if d, ok := r.(name.Digest); ok {
		if f, ok := Cached(c, d.DigestStr()); ok {
			return f, nil
		}
	}
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithPlatform(Platform),
		remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	img, err := remote.Image(r, opts...)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	dg, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	if f, ok := Cached(c, dg.String()); ok {
		return f, nil
	}
	unlock, err := c.Lock(ctx, "oci-"+dg.Hex)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if f, ok := Cached(c, dg.String()); ok {
		return f, nil
	}
	p.Stepf("pulling %s (%s)", ref, dg)
	f, err := extract(c, img)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	f.Digest = dg.String()
	if err := c.PutRecord(recordKey(f.Digest), f); err != nil {
		return nil, err
	}
	return f, nil
}

// kernelFile reports whether a path in the image is the kernel ("vmlinuz"),
// its config ("config") or neither.
func kernelFile(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	switch {
	case p == "boot/vmlinuz" || strings.HasPrefix(p, "boot/vmlinuz-"):
		return "vmlinuz"
	case p == "boot/config" || strings.HasPrefix(p, "boot/config-"):
		return "config"
	}
	return ""
}

// extract copies /boot/vmlinuz and /boot/config out of the image's flattened
// filesystem into the cache.
func extract(c *cache.Cache, img v1.Image) (*Fetched, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	f := &Fetched{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		kind := kernelFile(h.Name)
		if kind == "" || h.Typeflag != tar.TypeReg {
			continue
		}
		w, err := c.Create()
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(w, tr); err != nil {
			w.Abort()
			return nil, err
		}
		sum, _, err := w.Commit("")
		if err != nil {
			return nil, err
		}
		if kind == "vmlinuz" {
			f.ImageSHA256 = sum
		} else {
			f.ConfigSHA256 = sum
		}
	}
	if f.ImageSHA256 == "" {
		return nil, ErrNoKernel
	}
	return f, nil
}
