package kernels

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels/cache"
	"github.com/corematrix/corematrix/kernels/debian"
)

// resolveLocked returns exactly the image a lock entry pins, from the cache
// when it is there, else from the pinned package or image; any other content
// is an ErrLockMismatch.
func (r *Resolver) resolveLocked(ctx context.Context, name string, e LockEntry) (*kernel.Kernel, error) {
	if p, ok := strings.CutPrefix(e.Source, "local:"); ok {
		img, got, err := r.resolveLocal(kernel.Name{Raw: name, Kind: kernel.KindPath, Path: p})
		if err != nil {
			return nil, err
		}
		if got.SHA256 != e.SHA256 {
			return nil, fmt.Errorf("%s has sha256 %s, kernels.lock pins %s: %w", p, got.SHA256, e.SHA256, ErrLockMismatch)
		}
		return img, nil
	}
	img, err := r.image(name, &e)
	if err == nil {
		return img, nil
	}
	if !errors.Is(err, cache.ErrMiss) && !errors.Is(err, cache.ErrCorrupt) {
		return nil, err
	}
	var imageSum, configSum string
	switch {
	case e.Filename != "":
		if r.archive == nil {
			return nil, r.mirrorErr
		}
		f, err := r.archive.Fetch(ctx, candidateOf(&e))
		if err != nil {
			return nil, err
		}
		imageSum, configSum = f.ImageSHA256, f.ConfigSHA256
	case e.OCIRef != "":
		if r.opts.Offline {
			return nil, fmt.Errorf("oci %s: %w", e.OCIRef, debian.ErrOffline)
		}
		// The pinned reference names one image by digest, not a
		// multi-platform index: no platform to choose.
		f, err := r.fetchOCI(ctx, e.OCIRef, "")
		if err != nil {
			return nil, err
		}
		imageSum, configSum = f.ImageSHA256, f.ConfigSHA256
	default:
		return nil, fmt.Errorf("lock entry with source %q names no package or image", e.Source)
	}
	if imageSum != e.SHA256 {
		return nil, fmt.Errorf("%s yields image sha256 %s, kernels.lock pins %s: %w", e.Source, imageSum, e.SHA256, ErrLockMismatch)
	}
	if e.ConfigSHA256 != "" && configSum != e.ConfigSHA256 {
		return nil, fmt.Errorf("%s yields config sha256 %s, kernels.lock pins %s: %w", e.Source, configSum, e.ConfigSHA256, ErrLockMismatch)
	}
	return r.image(name, &e)
}

// pinnedElsewhere reports whether a lock entry's source is one that k's
// name does not resolve to by default: a version line, exact version or
// latest resolves to the Debian archive or DefaultOCIRepository, a deb:
// name to the Debian archive, an oci: name to that image, a path to that
// file. A committed kernels.lock can point a name anywhere; reports say so.
func pinnedElsewhere(k kernel.Kernel, source string) bool {
	n, err := k.Parsed()
	if err != nil {
		return true
	}
	switch n.Kind {
	case kernel.KindLine, kernel.KindExact, kernel.KindLatest:
		return !strings.HasPrefix(source, "debian:") && !strings.HasPrefix(source, "oci:"+DefaultOCIRepository+":") && !strings.HasPrefix(source, "oci:"+DefaultOCIRepository+"@")
	case kernel.KindDeb:
		return !strings.HasPrefix(source, "debian:")
	case kernel.KindOCI:
		return !strings.HasPrefix(source, "oci:"+n.Ref)
	case kernel.KindPath:
		abs, err := filepath.Abs(n.Path)
		return err != nil || source != "local:"+n.Path && source != "local:"+abs
	}
	return true
}
