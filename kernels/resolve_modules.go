package kernels

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels/debian"
	"github.com/corematrix/corematrix/kernels/modules"
	"github.com/corematrix/corematrix/kernels/oci"
)

// treesDir is the cache subdirectory holding unpacked modules trees, one per
// modules archive, named by the archive's SHA-256.
const treesDir = "trees"

// candidateOf rebuilds the Debian candidate a lock entry names.
func candidateOf(e *LockEntry) debian.Candidate {
	c := debian.Candidate{Suite: e.Suite, Upstream: e.Version, Package: debian.Package{
		Name: e.Package, Version: e.PackageVersion, Filename: e.Filename, Size: e.Size, SHA256: e.PackageSHA256}}
	if e.BaseFilename != "" {
		c.Base = &debian.Package{Name: "linux-base", Version: e.PackageVersion, Filename: e.BaseFilename, Size: e.BaseSize, SHA256: e.BaseSHA256}
	}
	if e.ModulesFilename != "" {
		c.Modules = &debian.Package{Name: "linux-modules", Version: e.PackageVersion, Filename: e.ModulesFilename, Size: e.ModulesSize, SHA256: e.ModulesSHA256}
	}
	return c
}

// attachModules sets img.Modules to the kernel's modules tree, read from
// the same verified packages as its image (a cache record written before
// modules were extracted makes the package be read again), or says in
// img.ModulesMissing why the kernel has none. Debian kernels and OCI images
// have modules trees; local files say they have none.
func (r *Resolver) attachModules(ctx context.Context, img *kernel.Kernel, e *LockEntry) {
	if e != nil && e.OCIRef != "" {
		r.attachOCIModules(ctx, img, e.OCIRef)
		return
	}
	if e == nil || e.PackageSHA256 == "" {
		if img.ModulesMissing == "" {
			img.ModulesMissing = "its source ships no kernel modules corematrix reads (only Debian packages and OCI images' usr/lib/modules)"
		}
		return
	}
	if r.archive == nil {
		img.ModulesMissing = "no Debian archive to read its modules from"
		return
	}
	f, err := r.archive.Fetch(ctx, candidateOf(e))
	if err != nil {
		img.ModulesMissing = fmt.Sprintf("reading its package failed: %v", err)
		return
	}
	if f.ImageSHA256 != img.SHA256 {
		img.ModulesMissing = "its package yields another image than the one resolved"
		return
	}
	if f.ModulesSchema == 0 {
		img.ModulesMissing = "the cache predates module extraction and --offline forbids reading the package again"
		return
	}
	if f.Modules == nil {
		img.ModulesMissing = "its packages hold no modules"
		return
	}
	r.useModules(img, f.Modules.SHA256, f.Modules.Release, f.Modules.Compression)
}

// useModules unpacks the cached modules archive sum for img.
func (r *Resolver) useModules(img *kernel.Kernel, sum, release, compression string) {
	blob, err := r.cache.Blob(sum)
	if err != nil {
		img.ModulesMissing = fmt.Sprintf("modules archive: %v", err)
		return
	}
	dir, err := modules.Tree(blob, filepath.Join(r.cache.Dir(), treesDir), sum)
	if err != nil {
		img.ModulesMissing = err.Error()
		return
	}
	img.Modules, img.ModulesRelease, img.ModulesCompression = dir, release, compression
}

// attachOCIModules sets img.Modules to the modules tree the OCI image ref
// (pinned by digest) carries, pulling the image again when its cache record
// predates module extraction.
func (r *Resolver) attachOCIModules(ctx context.Context, img *kernel.Kernel, ref string) {
	d, err := name.NewDigest(ref)
	if err != nil {
		img.ModulesMissing = fmt.Sprintf("oci reference %s: %v", ref, err)
		return
	}
	f, ok := oci.Cached(r.cache, d.Context().Name(), d.DigestStr())
	if !ok {
		if r.opts.Offline {
			img.ModulesMissing = "the cache predates module extraction and --offline forbids pulling the image again"
			return
		}
		if f, err = r.fetchOCI(ctx, ref, string(img.Arch)); err != nil {
			img.ModulesMissing = fmt.Sprintf("pulling its image failed: %v", err)
			return
		}
	}
	switch {
	case f.ImageSHA256 != img.SHA256:
		img.ModulesMissing = "its image yields another kernel than the one resolved"
	case f.Modules == nil:
		img.ModulesMissing = "its OCI image carries no modules (lib/modules or usr/lib/modules)"
	default:
		r.useModules(img, f.Modules.SHA256, f.Modules.Release, f.Modules.Compression)
	}
}
