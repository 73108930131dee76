package kernels

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/corematrix/corematrix/kernels/debian"
	"github.com/corematrix/corematrix/kernels/oci"
)

func (r *Resolver) resolveOCI(ctx context.Context, raw, ref string) (*Image, *LockEntry, error) {
	key := "name oci " + ref
	if img, e, ok := r.remembered(key, raw); ok {
		return img, e, nil
	}
	if r.opts.Offline {
		return nil, nil, fmt.Errorf("oci %s: %w", ref, debian.ErrOffline)
	}
	f, err := oci.Fetch(ctx, r.cache, ref, r.opts.Progress, r.opts.OCIOptions...)
	if err != nil {
		return nil, nil, err
	}
	pinned := ref
	if pr, err := name.ParseReference(ref); err == nil {
		pinned = pr.Context().Digest(f.Digest).String()
	}
	e := LockEntry{Source: "oci:" + pinned, SHA256: f.ImageSHA256, ConfigSHA256: f.ConfigSHA256, OCIRef: pinned}
	img, err := r.image(raw, &e)
	if err != nil {
		return nil, nil, fmt.Errorf("kernel %s: %w", raw, err)
	}
	e.Version, e.Release = img.Version, img.Release
	if err := r.cache.PutRecord(key, e); err != nil {
		return nil, nil, err
	}
	return img, &e, nil
}
