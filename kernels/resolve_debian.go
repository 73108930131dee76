package kernels

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels/debian"
)

// nameKey is the cache record remembering what a name resolved to.
func (r *Resolver) nameKey(name, arch string) string {
	kind := "name v2 " // v2: entries name the linux-modules-* package
	if r.archive != nil && r.archive.Keyring == nil {
		kind = "name-unverified v2 "
	}
	if arch != "" && arch != debian.ArchAMD64 {
		kind = arch + "-" + kind
	}
	return kind + r.Mirror() + " " + strings.Join(r.opts.Suites, ",") + " " + name
}

// remembered returns the image a name resolved to recently (any age when
// offline), without touching the network.
func (r *Resolver) remembered(key, name string) (*kernel.Kernel, *LockEntry, bool) {
	var e LockEntry
	w, err := r.cache.GetRecord(key, &e)
	if err != nil || (!r.opts.Offline && time.Since(w) >= r.opts.IndexTTL) {
		return nil, nil, false
	}
	img, err := r.image(name, &e)
	if err != nil {
		return nil, nil, false
	}
	return img, &e, true
}

// index returns a suite's index for arch, loading each once per Resolver.
func (r *Resolver) index(ctx context.Context, suite, arch string) (*debian.Index, error) {
	if arch == "" {
		arch = debian.ArchAMD64
	}
	r.mu.Lock()
	ir, ok := r.indices[suite+"/"+arch]
	if !ok {
		ir = &indexResult{}
		r.indices[suite+"/"+arch] = ir
	}
	r.mu.Unlock()
	ir.once.Do(func() { ir.idx, ir.err = r.archive.IndexFor(ctx, suite, arch) })
	return ir.idx, ir.err
}

// loadIndices loads the configured suites' indices for arch in parallel. It
// returns the indices that loaded and one error per suite that did not.
func (r *Resolver) loadIndices(ctx context.Context, arch string) ([]*debian.Index, []error) {
	out := make([]*debian.Index, len(r.opts.Suites))
	errs := make([]error, len(r.opts.Suites))
	var wg sync.WaitGroup
	for i, s := range r.opts.Suites {
		wg.Go(func() {
			out[i], errs[i] = r.index(ctx, s, arch)
		})
	}
	wg.Wait()
	var idx []*debian.Index
	for i := range out {
		if errs[i] == nil {
			idx = append(idx, out[i])
		}
	}
	return idx, suiteErrors(r.opts.Suites, errs)
}

// suiteErrors names the suites whose index could not be read, one error per
// distinct failure: a silent mirror fails every suite the same way, and is
// said once ("suites bookworm, trixie: mirror ... did not answer").
func suiteErrors(suites []string, errs []error) []error {
	var order []string
	bySuites := map[string][]string{}
	first := map[string]error{}
	for i, err := range errs {
		if err == nil {
			continue
		}
		// The same failure names each suite in its URL.
		msg := strings.ReplaceAll(err.Error(), "/"+suites[i]+"/", "/SUITE/")
		if _, ok := first[msg]; !ok {
			order = append(order, msg)
			first[msg] = err
		}
		bySuites[msg] = append(bySuites[msg], suites[i])
	}
	var out []error
	for _, msg := range order {
		names := bySuites[msg]
		if len(names) == 1 {
			out = append(out, fmt.Errorf("suite %s: %w", names[0], first[msg]))
			continue
		}
		out = append(out, &suitesError{suites: names, msg: msg, err: first[msg]})
	}
	return out
}

// suitesError is one failure of several suites; it wraps the first suite's
// error (for errors.Is) and says the failure once, the suite in its URLs
// written SUITE.
type suitesError struct {
	suites []string
	msg    string
	err    error
}

func (e *suitesError) Error() string {
	return fmt.Sprintf("suites %s: %s", strings.Join(e.suites, ", "), e.msg)
}

func (e *suitesError) Unwrap() error { return e.err }

// pick chooses the candidate for n among the candidates of indices.
func pick(n kernel.Name, indices []*debian.Index) (debian.Candidate, bool) {
	var all []debian.Candidate
	for _, idx := range indices {
		all = append(all, idx.Candidates...)
	}
	debian.SortCandidates(all)
	for _, c := range all {
		switch {
		case n.Kind == kernel.KindLatest,
			n.Kind == kernel.KindLine && c.Line == n.Version,
			n.Kind == kernel.KindExact && (c.Upstream == n.Version || c.Package.Version == n.Version):
			return c, true
		}
	}
	return debian.Candidate{}, false
}

// pickPackage chooses the newest version of a named package in idx.
func pickPackage(n kernel.Name, idx *debian.Index) (debian.Candidate, bool) {
	for _, c := range idx.Candidates {
		if c.Package.Name == n.Package {
			return c, true
		}
	}
	var best *debian.Package
	for i, p := range idx.Images {
		if p.Name == n.Package && (best == nil || debian.CompareVersions(p.Version, best.Version) > 0) {
			best = &idx.Images[i]
		}
	}
	if best == nil {
		return debian.Candidate{}, false
	}
	return debian.CandidateFor(n.Suite, *best), true
}

func (r *Resolver) resolveDebian(ctx context.Context, n kernel.Name) (*kernel.Kernel, *LockEntry, error) {
	arch := nameArch(n)
	key := r.nameKey(n.Raw, arch)
	if img, e, ok := r.remembered(key, n.Raw); ok {
		return img, e, nil
	}
	if r.archive == nil {
		return r.fallBackToOCI(ctx, n, []string{r.mirrorErr.Error()}, r.mirrorErr)
	}
	var c debian.Candidate
	var found bool
	var reasons []string
	var errs []error
	// partial is set when a suite could not be read but another served the
	// name: the choice may not be the one a complete archive would give, so
	// it is used for this run and not remembered.
	partial := false
	if n.Kind == kernel.KindDeb {
		idx, err := r.index(ctx, n.Suite, arch)
		if err != nil {
			return nil, nil, fmt.Errorf("kernel %s: %w", n.Raw, err)
		}
		if c, found = pickPackage(n, idx); !found {
			return nil, nil, &UnavailableError{Name: n.Raw,
				Reasons: []string{fmt.Sprintf("suite %s has no kernel image package %s", n.Suite, n.Package)},
				Hint:    "List what the archive offers with `vmtest kernels list`"}
		}
	} else {
		indices, bad := r.loadIndices(ctx, arch)
		c, found = pick(n, indices)
		if found && len(bad) > 0 {
			partial = true
			for _, err := range bad {
				r.opts.Progress.Stepf("warning: %s resolved without %v; not remembered, the next run asks again", n.Raw, err)
			}
		}
		if !found {
			errs = bad
			if len(indices) == 0 && len(bad) > 1 {
				// Every suite failed, usually for one reason: say it once.
				reasons = append(reasons, fmt.Sprintf("the Debian archive %s could not be read for any of its %d suites (first: %v)", r.archive.Mirror, len(bad), bad[0]))
			} else {
				for _, err := range bad {
					reasons = append(reasons, err.Error())
				}
			}
			if len(indices) > 0 {
				reasons = append(reasons, fmt.Sprintf("no configured Debian suite serves %s (%s)", n.Raw, linesSummary(indices)))
			}
		}
	}
	if !found {
		return r.fallBackToOCI(ctx, n, reasons, errs...)
	}
	f, err := r.archive.Fetch(ctx, c)
	if err != nil {
		return nil, nil, fmt.Errorf("kernel %s: %w", n.Raw, err)
	}
	e := entryFor(c, f)
	if idx, err := r.index(ctx, c.Suite, arch); err != nil || idx.Unverified {
		e.Unverified = true
		e.Source += " (unverified)"
	}
	img, err := r.image(n.Raw, &e)
	if err != nil {
		return nil, nil, fmt.Errorf("kernel %s: %w", n.Raw, err)
	}
	if !partial {
		if err := r.cache.PutRecord(key, e); err != nil {
			return nil, nil, err
		}
	}
	return img, &e, nil
}

// entryFor describes a fetched Debian candidate as a lock entry.
func entryFor(c debian.Candidate, f *debian.Fetched) LockEntry {
	e := LockEntry{
		Source:         fmt.Sprintf("debian:%s/%s=%s", c.Suite, c.Package.Name, c.Package.Version),
		Version:        c.Upstream,
		Release:        c.Release(),
		SHA256:         f.ImageSHA256,
		ConfigSHA256:   f.ConfigSHA256,
		Suite:          c.Suite,
		Package:        c.Package.Name,
		PackageVersion: c.Package.Version,
		Filename:       c.Package.Filename,
		Size:           c.Package.Size,
		PackageSHA256:  c.Package.SHA256,
	}
	if c.Base != nil {
		e.BaseFilename, e.BaseSize, e.BaseSHA256 = c.Base.Filename, c.Base.Size, c.Base.SHA256
	}
	if c.Modules != nil {
		e.ModulesFilename, e.ModulesSize, e.ModulesSHA256 = c.Modules.Filename, c.Modules.Size, c.Modules.SHA256
	}
	return e
}

// linesSummary lists the version lines each suite serves:
// "bullseye: 5.10; bookworm: 6.1; ...".
func linesSummary(indices []*debian.Index) string {
	var parts []string
	for _, idx := range indices {
		seen := map[string]bool{}
		var lines []string
		for _, c := range idx.Candidates {
			if !seen[c.Line] {
				seen[c.Line] = true
				lines = append(lines, c.Line)
			}
		}
		sort.Slice(lines, func(i, j int) bool { return debian.CompareVersions(lines[i], lines[j]) < 0 })
		if len(lines) == 0 {
			lines = []string{"none"}
		}
		parts = append(parts, idx.Suite+": "+strings.Join(lines, ", "))
	}
	return "available lines: " + strings.Join(parts, "; ")
}

// fallBackToOCI resolves a version the Debian archive did not serve from
// the OCI repository of versions (Options.OCIRepository), downloading it;
// when that fails too, or the name is not a version, it returns an
// UnavailableError naming every source tried (reasons: what the archive
// said).
func (r *Resolver) fallBackToOCI(ctx context.Context, n kernel.Name, reasons []string, errs ...error) (*kernel.Kernel, *LockEntry, error) {
	hint := "Name an image that is reachable: oci:REGISTRY/REPO:TAG, or a local bzImage (a path, or a directory holding boot/vmlinuz)"
	if (n.Kind == kernel.KindLine || n.Kind == kernel.KindExact) && r.opts.OCIRepository != "none" {
		ref := r.opts.OCIRepository + ":" + n.Version
		img, e, err := r.resolveOCI(ctx, n.Raw, ref, nameArch(n))
		if err == nil {
			return img, e, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		reasons = append(reasons, fmt.Sprintf("OCI image %s: %v", ref, err))
		hint = fmt.Sprintf("Use oci:%s where that registry is reachable (or another registry's image), or a local bzImage (a path, or a directory holding boot/vmlinuz)", ref)
	}
	if len(reasons) == 0 {
		reasons = []string{"no source serves it"}
	}
	return nil, nil, &UnavailableError{Name: n.Raw, Reasons: reasons, Hint: hint, Errs: errs}
}

// Offer is a kernel the Debian archive serves.
type Offer struct {
	// Arch is the kernel's architecture ("amd64", "arm64").
	Arch           string
	Line           string
	Version        string
	Release        string
	Suite          string
	Package        string
	PackageVersion string
	Size           int64
}

// Offers lists the amd64 kernels the configured Debian suites serve:
// OffersFor amd64.
func (r *Resolver) Offers(ctx context.Context) ([]Offer, error) {
	return r.OffersFor(ctx, debian.ArchAMD64)
}

// OffersFor lists the kernels of arch the configured Debian suites serve,
// newest first. Suites that could not be read are reported in the error,
// alongside the offers of the others.
func (r *Resolver) OffersFor(ctx context.Context, arch string) ([]Offer, error) {
	if r.archive == nil {
		return nil, r.mirrorErr
	}
	indices, errs := r.loadIndices(ctx, arch)
	var all []debian.Candidate
	for _, idx := range indices {
		all = append(all, idx.Candidates...)
	}
	debian.SortCandidates(all)
	out := make([]Offer, 0, len(all))
	for _, c := range all {
		out = append(out, Offer{Arch: arch, Line: c.Line, Version: c.Upstream, Release: c.Release(), Suite: c.Suite,
			Package: c.Package.Name, PackageVersion: c.Package.Version, Size: c.Package.Size})
	}
	return out, multierror.Append(nil, errs...).ErrorOrNil()
}

// nameArch returns the Debian architecture a name asks for.
func nameArch(n kernel.Name) string {
	if n.Arch == "" {
		return string(kernel.HostArch())
	}
	return string(n.Arch)
}

// Busybox returns the path of a static busybox for guests of arch: from the
// busybox-static package of the newest configured suite that has one,
// verified like a kernel package and cached. The host's own busybox serves
// guests of its architecture; this serves the others (arm64 guests on an x86
// host).
func (r *Resolver) Busybox(ctx context.Context, arch string) (string, error) {
	if r.archive == nil {
		return "", r.mirrorErr
	}
	var errs []error
	// Stable suites first, newest first: the host's busybox lists the
	// applets, and a stable release's busybox is closest to it.
	suites := slices.Clone(r.opts.Suites)
	slices.Reverse(suites)
	slices.SortStableFunc(suites, func(a, b string) int {
		return cmpBool(unstableSuite(a), unstableSuite(b))
	})
	for _, s := range suites {
		p, err := r.archive.Busybox(ctx, s, arch)
		if err == nil {
			return p, nil
		}
		errs = append(errs, fmt.Errorf("suite %s: %w", s, err))
	}
	return "", fmt.Errorf("no %s busybox-static in any configured suite: %w", arch, multierror.Append(nil, errs...))
}

// unstableSuite reports whether a suite is not a stable release (sid,
// experimental, backports).
func unstableSuite(s string) bool {
	return s == "sid" || s == "unstable" || s == "experimental" || strings.HasSuffix(s, "-backports")
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
