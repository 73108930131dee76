package oci

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/corematrix/corematrix/kernels/bzimage"
	"github.com/corematrix/corematrix/kernels/cache"
	"github.com/corematrix/corematrix/kernels/modules"
	"github.com/corematrix/corematrix/kernels/progress"
)

// ErrNoKernel is returned for an image that has no /boot/vmlinuz.
var ErrNoKernel = errors.New("image has no /boot/vmlinuz")

// ErrTooLarge is returned for an image, layer or file beyond its size limit.
var ErrTooLarge = errors.New("exceeds the size limit")

// Limits on what a registry may send, checked before anything is written.
// Variables only so tests can lower them.
var (
	// MaxLayer bounds one compressed layer as the manifest lists it.
	MaxLayer int64 = 1 << 30
	// MaxFlattened bounds the decompressed filesystem read to verify it.
	MaxFlattened int64 = 4 << 30
	// maxKernelFiles bounds the kernel and config files an image may hold.
	maxKernelFiles = 8
)

// Platform is the platform pulled from multi-platform images unless an
// option (remote.WithPlatform(PlatformFor(arch))) asks for another.
var Platform = v1.Platform{OS: "linux", Architecture: "amd64"}

// PlatformFor returns the platform of linux kernels of arch ("amd64",
// "arm64"; empty means amd64).
func PlatformFor(arch string) v1.Platform {
	if arch == "" {
		return Platform
	}
	return v1.Platform{OS: "linux", Architecture: arch}
}

// Fetched is a kernel extracted from an OCI image into the cache. Its
// record is keyed by the repository and manifest digest it was pulled and
// verified from; the manifest digest covers the layer digests, and every
// layer was read to its end so its digest was checked.
type Fetched struct {
	// Repository is where the image was pulled from, REGISTRY/REPO.
	Repository string `json:"repository"`
	// Digest is the image manifest digest the tag resolved to.
	Digest string `json:"digest"`
	// Layers are the digests of the image's layers, all verified.
	Layers       []string `json:"layers"`
	ImageSHA256  string   `json:"image_sha256"`
	ConfigSHA256 string   `json:"config_sha256,omitempty"`
	// ModulesSchema is modulesSchema when the image's modules were looked
	// for; a record without it predates module extraction.
	ModulesSchema int `json:"modules_schema,omitempty"`
	// Modules is the modules tree the image carries (lib/modules/RELEASE
	// or usr/lib/modules/RELEASE), as a modules archive blob; nil when it
	// carries none (cilium's ci-kernels build everything in).
	Modules *Modules `json:"modules,omitempty"`
}

// Modules is the modules archive (see package modules) of an image.
type Modules struct {
	SHA256      string `json:"sha256"`
	Release     string `json:"release"`
	Count       int    `json:"count"`
	Compression string `json:"compression"`
}

// modulesSchema marks records whose images were searched for modules.
const modulesSchema = 1

func recordKey(repo, digest string) string { return "oci-image-verified " + repo + "@" + digest }

// Cached returns the kernel of the image repo@digest (repo is
// REGISTRY/REPO) when the cache holds it intact, without touching the
// network.
func Cached(c *cache.Cache, repo, digest string) (*Fetched, bool) {
	var f Fetched
	if _, err := c.GetRecord(recordKey(repo, digest), &f); err != nil {
		return nil, false
	}
	if f.Repository != repo || f.Digest != digest || f.ModulesSchema < modulesSchema {
		return nil, false
	}
	if f.Modules != nil {
		if _, err := c.Blob(f.Modules.SHA256); err != nil {
			return nil, false
		}
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

// Fetch resolves ref (a tag or digest reference) for linux/amd64 (or the
// platform an option names) and returns
// its kernel, extracting it into the cache unless already there. Every
// layer is read to its end so that its digest is verified, and nothing is
// cached unless all of them verify. Credentials come from the Docker config
// (docker login), anonymous otherwise.
func Fetch(ctx context.Context, c *cache.Cache, ref string, p *progress.Reporter, opts ...remote.Option) (*Fetched, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("oci reference %q: %w", ref, err)
	}
	repo := r.Context().Name()
	if d, ok := r.(name.Digest); ok {
		if f, ok := Cached(c, repo, d.DigestStr()); ok {
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
	if f, ok := Cached(c, repo, dg.String()); ok {
		return f, nil
	}
	unlock, err := c.Lock(ctx, "oci-"+dg.Hex)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if f, ok := Cached(c, repo, dg.String()); ok {
		return f, nil
	}
	layers, err := checkLayers(img)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	p.Stepf("pulling %s (%s)", ref, dg)
	f, err := extract(c, img)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	f.Repository, f.Digest, f.Layers = repo, dg.String(), layers
	if err := c.PutRecord(recordKey(repo, f.Digest), f); err != nil {
		return nil, err
	}
	return f, nil
}

// checkLayers returns the layer digests of img after checking their sizes
// as the manifest lists them.
func checkLayers(img v1.Image) ([]string, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range m.Layers {
		if l.Size < 0 || l.Size > MaxLayer {
			return nil, fmt.Errorf("layer %s of %d bytes, more than the limit of %d: %w", l.Digest, l.Size, MaxLayer, ErrTooLarge)
		}
		out = append(out, l.Digest.String())
	}
	return out, nil
}

// kernelFile reports whether a path in the image is the kernel ("vmlinuz"),
// its config ("config") or neither.
func kernelFile(p string) string {
	p = cleanPath(p)
	switch {
	case p == "boot/vmlinuz" || strings.HasPrefix(p, "boot/vmlinuz-"):
		return "vmlinuz"
	case p == "boot/config" || strings.HasPrefix(p, "boot/config-"):
		return "config"
	}
	return ""
}

func cleanPath(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

// staged is a kernel file written to a temporary blob, not yet in the cache.
type staged struct {
	w    *cache.BlobWriter
	sum  string
	kind string
}

// extract copies /boot/vmlinuz, /boot/config and the modules tree
// (lib/modules/RELEASE or usr/lib/modules/RELEASE, into a modules archive)
// out of the image's flattened filesystem into the cache. It reads the stream to its end, so that
// go-containerregistry verifies every layer's digest and path safety, and
// commits the files only after that. A hard link to a kernel file, or to a
// file named vmlinuz* anywhere in the image, counts as that file. Where an
// image has several kernels, /boot/vmlinuz is the one; several
// /boot/vmlinuz-* without it are ambiguous.
func extract(c *cache.Cache, img v1.Image) (*Fetched, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	x := &extraction{cache: c, files: map[string]*staged{}, links: map[string]string{}}
	defer x.abort()
	if err := x.read(rc); err != nil {
		return nil, err
	}
	if err := x.link(); err != nil {
		return nil, err
	}
	return x.commit()
}

// extraction is the kernel files of one image, staged in the cache until
// the whole image was read and verified.
type extraction struct {
	cache *cache.Cache
	// files are the kernel files (and files named vmlinuz*) by path.
	files map[string]*staged
	// links are the hard links to kernel files: path to target.
	links map[string]string
	// mods collects the image's modules tree into modsBlob (both nil
	// until the first module).
	mods     *modules.Builder
	modsBlob *cache.BlobWriter
}

// abort drops whatever was staged and not committed.
func (x *extraction) abort() {
	for _, s := range x.files {
		s.w.Abort()
	}
	if x.modsBlob != nil {
		x.modsBlob.Abort()
	}
}

// read stages the kernel files of the flattened filesystem in rc, reading
// it to its end (at most MaxFlattened bytes) so that the layers are
// verified.
func (x *extraction) read(rc io.Reader) error {
	counted := &countReader{r: rc, max: MaxFlattened}
	tr := tar.NewReader(counted)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := x.entry(tr, h); err != nil {
			return err
		}
	}
	// The tar end marker is not the end of the stream: layer digests are
	// checked, and unsafe paths reported, only when it is read to its end.
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return fmt.Errorf("verify layers: %w", err)
	}
	return nil
}

// entry stages the file of header h (its content next in tr) when it is a
// kernel file or named vmlinuz*, and notes a hard link to a kernel file.
func (x *extraction) entry(tr *tar.Reader, h *tar.Header) error {
	name := cleanPath(h.Name)
	if h.Typeflag == tar.TypeReg && modules.Wants(name) {
		return x.module(name, h.Size, tr)
	}
	kind := kernelFile(name)
	// Other files named vmlinuz* are kept in case /boot/vmlinuz turns out
	// to be a hard link to one of them.
	target := strings.HasPrefix(path.Base(name), "vmlinuz")
	switch {
	case kind == "" && !target:
		return nil
	case h.Typeflag == tar.TypeLink:
		if kind != "" {
			x.links[name] = cleanPath(h.Linkname)
		}
		return nil
	case h.Typeflag != tar.TypeReg:
		return nil
	}
	max := int64(bzimage.MaxImage)
	if kind == "config" {
		max = bzimage.MaxConfig
	}
	if h.Size > max {
		return fmt.Errorf("%s: %d bytes, more than the limit of %d: %w", name, h.Size, max, ErrTooLarge)
	}
	if old := x.files[name]; old != nil {
		old.w.Abort()
		delete(x.files, name)
	}
	if len(x.files) >= maxKernelFiles {
		return fmt.Errorf("image holds more than %d kernel and config files (under /boot, or named vmlinuz*)", maxKernelFiles)
	}
	w, err := x.cache.Create()
	if err != nil {
		return err
	}
	x.files[name] = &staged{w: w, kind: kind}
	if _, err := io.CopyN(w, tr, h.Size); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	x.files[name].sum = w.Sum()
	return nil
}

// module adds a file of the image's modules tree to the modules archive.
func (x *extraction) module(name string, size int64, r io.Reader) error {
	if x.mods == nil {
		w, err := x.cache.Create()
		if err != nil {
			return err
		}
		x.modsBlob, x.mods = w, modules.NewBuilder(w)
	}
	return x.mods.Add(name, size, r)
}

// commitModules finishes the modules archive and commits it (nil when the
// image carries no modules).
func (x *extraction) commitModules() (*Modules, error) {
	if x.mods == nil {
		return nil, nil
	}
	sum, err := x.mods.Finish()
	switch {
	case errors.Is(err, modules.ErrNoModules):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("kernel modules: %w", err)
	}
	sha, _, err := x.modsBlob.Commit("")
	if err != nil {
		return nil, err
	}
	return &Modules{SHA256: sha, Release: sum.Release, Count: sum.Modules, Compression: string(sum.Compression)}, nil
}

// link makes each hard link to a staged file stand for that file.
func (x *extraction) link() error {
	for name, target := range x.links {
		if t := x.files[target]; t != nil {
			x.files[name] = &staged{w: t.w, sum: t.sum, kind: kernelFile(name)}
		} else if name == "boot/vmlinuz" {
			return fmt.Errorf("%s is a hard link to %s, which is neither a kernel file nor named vmlinuz*", name, target)
		}
	}
	return nil
}

// commit picks the kernel and its config and commits them to the cache.
func (x *extraction) commit() (*Fetched, error) {
	kernel, err := pick(x.files, "vmlinuz")
	if err != nil {
		return nil, err
	}
	if kernel == nil {
		return nil, ErrNoKernel
	}
	config, err := pick(x.files, "config")
	if err != nil {
		return nil, err
	}
	f := &Fetched{ModulesSchema: modulesSchema}
	if f.Modules, err = x.commitModules(); err != nil {
		return nil, err
	}
	if f.ImageSHA256, err = commitCopy(x.cache, kernel); err != nil {
		return nil, err
	}
	if config != nil {
		if f.ConfigSHA256, err = commitCopy(x.cache, config); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// pick returns the staged file of kind: boot/<kind> itself, else the
// boot/<kind>-* files when they all hold the same content, else nil.
// Different boot/<kind>-* files without boot/<kind> are ambiguous.
func pick(files map[string]*staged, kind string) (*staged, error) {
	if s := files["boot/"+kind]; s != nil {
		return s, nil
	}
	var found *staged
	var names []string
	for name, s := range files {
		if s.kind == kind {
			names = append(names, name)
			if found == nil || s.sum < found.sum {
				found = s
			}
		}
	}
	for _, n := range names {
		if files[n].sum != found.sum {
			slices.Sort(names)
			return nil, fmt.Errorf("image holds different files %s and no /boot/%s", strings.Join(names, ", "), kind)
		}
	}
	return found, nil
}

// commitCopy commits s's blob into the cache, or, when another name
// committed the same writer already, returns its sum.
func commitCopy(c *cache.Cache, s *staged) (string, error) {
	if _, err := c.Blob(s.sum); err == nil {
		return s.sum, nil
	}
	sum, _, err := s.w.Commit(s.sum)
	return sum, err
}

// countReader fails once more than max bytes were read.
type countReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		return n, fmt.Errorf("image filesystem larger than %d bytes: %w", c.max, ErrTooLarge)
	}
	return n, err
}
