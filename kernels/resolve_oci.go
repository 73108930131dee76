package kernels

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels/debian"
	"github.com/corematrix/corematrix/kernels/download"
	"github.com/corematrix/corematrix/kernels/oci"
)

func (r *Resolver) resolveOCI(ctx context.Context, raw, ref, arch string) (*kernel.Kernel, *LockEntry, error) {
	key := "name oci " + ref
	if arch != "" && arch != string(kernel.AMD64) {
		key = arch + "-" + key
	}
	if img, e, ok := r.remembered(key, raw); ok {
		return img, e, nil
	}
	if r.opts.Offline {
		return nil, nil, fmt.Errorf("oci %s: %w", ref, debian.ErrOffline)
	}
	f, err := r.fetchOCI(ctx, ref, arch)
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

// fetchOCI pulls ref with the resolver's deadlines: every request's connect,
// first byte and idle waits, bounded retries with backoff, and the whole
// pull within Deadlines.Total. A multi-platform image gives its linux/ARCH
// image.
func (r *Resolver) fetchOCI(ctx context.Context, ref, arch string) (*oci.Fetched, error) {
	d := r.opts.Deadlines.OrDefault()
	ctx, cancel := context.WithTimeoutCause(ctx, d.Total, &download.TimeoutError{Role: "registry", Host: ref, Wait: "end of download", Limit: d.Total})
	defer cancel()
	rp := r.opts.Retry.OrDefault()
	opts := append([]remote.Option{
		remote.WithTransport(download.Transport("registry", d)),
		remote.WithRetryBackoff(remote.Backoff{Duration: rp.Backoff, Factor: download.BackoffFactor, Steps: rp.Attempts}),
		remote.WithRetryPredicate(download.Transient),
		remote.WithPlatform(oci.PlatformFor(arch)),
	}, r.opts.OCIOptions...)
	f, err := oci.Fetch(ctx, r.cache, ref, r.opts.Progress, opts...)
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("%w: %w", context.Cause(ctx), err)
	}
	return f, err
}
