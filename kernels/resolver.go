package kernels

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels/cache"
	"github.com/corematrix/corematrix/kernels/debian"
	"github.com/corematrix/corematrix/kernels/download"
	"github.com/corematrix/corematrix/kernels/progress"
)

// DefaultSuites are the Debian suites searched, oldest first.
var DefaultSuites = []string{"bullseye", "bookworm", "trixie", "trixie-backports", "sid"}

// DefaultOCIRepository serves version lines Debian does not (5.4, 5.15, 6.6).
const DefaultOCIRepository = "ghcr.io/cilium/ci-kernels"

// DefaultIndexTTL is how long fetched indices and name resolutions are used
// before the network is asked again.
const DefaultIndexTTL = 12 * time.Hour

// Options configure a Resolver. The zero value is usable.
type Options struct {
	// CacheDir is the cache directory; empty means cache.DefaultDir.
	CacheDir string
	// Offline uses only the cache: no network access at all.
	Offline bool
	// DebianMirror is the archive URL; empty means $CM_DEBIAN_MIRROR, else
	// the mirror of this machine's apt sources.
	DebianMirror string
	// Suites are the Debian suites searched; nil means $CM_DEBIAN_SUITES
	// (comma- or space-separated), else DefaultSuites.
	Suites []string
	// Keyring verifies InRelease files; empty means debian.DefaultKeyring.
	// When that file does not exist Debian indices are refused, unless
	// AllowUnverified is set.
	Keyring string
	// AllowUnverified uses Debian indices without checking their
	// signature when there is no keyring. Such kernels are marked
	// unverified (Image.Unverified) wherever they are reported.
	AllowUnverified bool
	// IndexTTL is how long indices and name resolutions stay fresh; zero
	// means DefaultIndexTTL.
	IndexTTL time.Duration
	// LockFile pins names to images (see LockFile); nil means none.
	LockFile *LockFile
	// OCIRepository is tried, as REPO:LINE, for version lines the Debian
	// suites do not serve; empty means DefaultOCIRepository, "none" disables.
	OCIRepository string
	// OCIOptions are passed to go-containerregistry's remote package.
	OCIOptions []remote.Option
	// Deadlines bound every network wait (Debian mirror and OCI registry);
	// zero fields mean download.DefaultDeadlines.
	Deadlines download.Deadlines
	// Retry is the policy for transient download failures, from mirrors
	// and registries alike; zero fields mean download.DefaultRetry's.
	Retry download.Retry
	// Progress receives steps and download progress; nil reports nothing.
	Progress *progress.Reporter
}

// Resolver turns kernel names into verified images on disk. It is safe for
// concurrent use.
type Resolver struct {
	opts    Options
	cache   *cache.Cache
	archive *debian.Archive
	// mirrorErr is why there is no archive, if there is none.
	mirrorErr error

	mu      sync.Mutex
	indices map[string]*indexResult
}

type indexResult struct {
	once sync.Once
	idx  *debian.Index
	err  error
}

// New returns a Resolver for opts.
func New(opts Options) (*Resolver, error) {
	if opts.Suites == nil {
		opts.Suites = strings.FieldsFunc(os.Getenv("CM_DEBIAN_SUITES"), func(r rune) bool { return r == ',' || r == ' ' })
	}
	if len(opts.Suites) == 0 {
		opts.Suites = DefaultSuites
	}
	if opts.IndexTTL == 0 {
		opts.IndexTTL = DefaultIndexTTL
	}
	if opts.OCIRepository == "" {
		opts.OCIRepository = DefaultOCIRepository
	}
	if opts.Keyring == "" {
		opts.Keyring = debian.DefaultKeyring
	}
	c, err := cache.Open(opts.CacheDir)
	if err != nil {
		return nil, err
	}
	r := &Resolver{opts: opts, cache: c, indices: map[string]*indexResult{}}
	mirror := opts.DebianMirror
	if mirror == "" {
		mirror = os.Getenv("CM_DEBIAN_MIRROR")
	}
	if mirror == "" {
		mirror, err = debian.SystemMirror()
		if err != nil {
			r.mirrorErr = fmt.Errorf("find Debian mirror: %w (set --debian-mirror or CM_DEBIAN_MIRROR)", err)
		}
	}
	if mirror != "" {
		a := &debian.Archive{
			Mirror:   strings.TrimRight(mirror, "/"),
			Cache:    c,
			Client:   &download.Client{Role: "mirror", Deadlines: opts.Deadlines, Retry: opts.Retry, Waiting: stepper(opts.Progress)},
			TTL:      opts.IndexTTL,
			Offline:  opts.Offline,
			Progress: opts.Progress,
		}
		kr, err := debian.ReadKeyring(opts.Keyring)
		switch {
		case errors.Is(err, os.ErrNotExist) && opts.AllowUnverified:
			a.AllowUnverified = true
			opts.Progress.Stepf("warning: no Debian archive keyring at %s; --allow-unverified: Debian kernels are NOT verified and are marked unverified", opts.Keyring)
		case errors.Is(err, os.ErrNotExist):
			// Refused when an index is needed (debian.ErrNoKeyring), so
			// cached, local and OCI kernels still work.
		case err != nil:
			return nil, fmt.Errorf("read keyring %s: %w", opts.Keyring, err)
		default:
			a.Keyring = kr
		}
		r.archive = a
	}
	return r, nil
}

// Cache returns the resolver's cache.
func (r *Resolver) Cache() *cache.Cache { return r.cache }

// Mirror returns the Debian mirror in use, or "" when there is none.
func (r *Resolver) Mirror() string {
	if r.archive == nil {
		return ""
	}
	return r.archive.Mirror
}

// Resolve returns k with the verified image it names filled in (see
// kernel.Resolver), fetching the image into the cache when needed. A name
// pinned in the lock file resolves to exactly the pinned image. When no
// source serves the name the error matches ErrUnavailable and says what to
// do instead.
func (r *Resolver) Resolve(ctx context.Context, k kernel.Kernel) (kernel.Kernel, error) {
	if lf := r.opts.LockFile; lf != nil {
		if e, ok := lf.Kernels[k.Name]; ok {
			img, err := r.resolveLocked(ctx, k.Name, e)
			if err != nil {
				return kernel.Kernel{}, fmt.Errorf("kernel %s (locked): %w", k.Name, err)
			}
			r.attachModules(ctx, img, &e)
			k = identify(k, img)
			k.PinnedElsewhere = pinnedElsewhere(k, e.Source)
			return k, nil
		}
	}
	img, e, err := r.resolve(ctx, k)
	if err != nil {
		return kernel.Kernel{}, err
	}
	r.attachModules(ctx, img, e)
	return identify(k, img), nil
}

// ResolveName is Resolve of the kernel a name asks for (kernel.Parse).
func (r *Resolver) ResolveName(ctx context.Context, name string) (kernel.Kernel, error) {
	k, err := kernel.Parse(name)
	if err != nil {
		return kernel.Kernel{}, err
	}
	return r.Resolve(ctx, k)
}

// identify returns the image img with the identity of k, the kernel that
// asked for it: the name as asked, its architecture and parsed form.
func identify(k kernel.Kernel, img *kernel.Kernel) kernel.Kernel {
	out := *img
	out.Name, out.Arch, out.Spec = k.Name, k.Arch, k.Spec
	if out.Arch == "" {
		out.Arch = kernel.HostArch()
	}
	return out
}

// Pin resolves k ignoring the lock file and returns the image with the
// lock entry that pins it.
func (r *Resolver) Pin(ctx context.Context, k kernel.Kernel) (kernel.Kernel, LockEntry, error) {
	img, e, err := r.resolve(ctx, k)
	if err != nil {
		return kernel.Kernel{}, LockEntry{}, err
	}
	return identify(k, img), *e, nil
}

func (r *Resolver) resolve(ctx context.Context, k kernel.Kernel) (*kernel.Kernel, *LockEntry, error) {
	n, err := k.Parsed()
	if err != nil {
		return nil, nil, err
	}
	if n.Arch == "" {
		n.Arch = kernel.HostArch()
	}
	if !slices.Contains(kernel.Arches, n.Arch) {
		return nil, nil, &UnavailableError{Name: k.Name,
			Reasons: []string{fmt.Sprintf("no source serves %s kernels", n.Arch)},
			Hint:    "Name an amd64 or arm64 kernel", Errs: []error{ErrArch}}
	}
	var img *kernel.Kernel
	var e *LockEntry
	switch n.Kind {
	case kernel.KindPath:
		img, e, err = r.resolveLocal(n)
	case kernel.KindOCI:
		img, e, err = r.resolveOCI(ctx, n.Raw, n.Ref, string(n.Arch))
	default:
		img, e, err = r.resolveDebian(ctx, n)
	}
	if err != nil {
		return nil, nil, err
	}
	// The image says what it is: a kernel of another architecture than the
	// name asks for would not boot (or boot emulated as the wrong machine).
	if img.Arch != "" && img.Arch != n.Arch {
		return nil, nil, fmt.Errorf("kernel %s: %w: the image is an %s kernel, not %s: name it %s/%s", k.Name, ErrArchMismatch, img.Arch, n.Arch, n.Base(), img.Arch)
	}
	return img, e, nil
}

// image builds the Image of cached blobs, verifying their hashes (a corrupt
// blob is removed and reported as cache.ErrCorrupt).
func (r *Resolver) image(name string, e *LockEntry) (*kernel.Kernel, error) {
	p, err := r.cache.Blob(e.SHA256)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	os.Chtimes(p, now, now) // marks use, for prune
	img := &kernel.Kernel{Name: name, Version: e.Version, Release: e.Release, Source: e.Source, Path: p, SHA256: e.SHA256, Unverified: e.Unverified}
	if e.ConfigSHA256 != "" {
		cp, err := r.cache.Blob(e.ConfigSHA256)
		if err != nil {
			return nil, err
		}
		os.Chtimes(cp, now, now)
		img.ConfigPath = cp
		img.Config = configHighlights(cp)
	}
	if err := r.fillMeta(img); err != nil {
		return nil, err
	}
	return img, nil
}

// stepper reports a download's waits as progress steps; nil without a
// reporter.
func stepper(p *progress.Reporter) func(string) {
	if p == nil {
		return nil
	}
	return func(notice string) { p.Stepf("%s", notice) }
}

// Archive returns the Debian archive the resolver reads (verified like
// every kernel's index), or why there is none.
func (r *Resolver) Archive() (*debian.Archive, error) {
	if r.archive == nil {
		if r.mirrorErr != nil {
			return nil, r.mirrorErr
		}
		return nil, errors.New("no Debian mirror")
	}
	return r.archive, nil
}
