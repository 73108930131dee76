package debian

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	pathpkg "path"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ulikunitz/xz"

	"github.com/corematrix/corematrix/kernels/cache"
	"github.com/corematrix/corematrix/kernels/download"
	"github.com/corematrix/corematrix/kernels/modules"
	"github.com/corematrix/corematrix/kernels/progress"
)

// ErrOffline is returned when a network fetch is needed in offline mode.
var ErrOffline = errors.New("offline and not in cache")

// Archive reads kernel packages from one Debian mirror through a cache.
type Archive struct {
	// Mirror is the archive's base URL (the URIs of an apt source).
	Mirror string
	// Keyring verifies InRelease files. When nil, indices are refused
	// unless AllowUnverified is set.
	Keyring openpgp.EntityList
	// AllowUnverified uses indices whose signature is not checked when
	// there is no Keyring; such indices say so (Index.Unverified).
	AllowUnverified bool
	Cache           *cache.Cache
	// Client downloads from the mirror with deadlines and retries; nil
	// means a download.Client with the default deadlines.
	Client *download.Client
	// TTL is how long a suite's index is used before it is fetched again.
	TTL time.Duration
	// Offline forbids network access: only cached indices and images.
	Offline  bool
	Progress *progress.Reporter
}

// Index is a suite's kernel candidates as last fetched.
type Index struct {
	Suite string `json:"suite"`
	// Arch is the architecture whose Packages index this is; empty means
	// amd64.
	Arch         string      `json:"arch,omitempty"`
	Date         string      `json:"date"`
	Signer       string      `json:"signer"`
	PackagesPath string      `json:"packages_path"`
	PackagesHash string      `json:"packages_sha256"`
	Candidates   []Candidate `json:"candidates"`
	// Images are the image packages of every flavour.
	Images []Package `json:"images"`
	// Busybox are the suite's busybox-static packages (the guest's userland
	// for an architecture the host has no busybox of).
	Busybox []Package `json:"busybox,omitempty"`
	// Unverified says the InRelease signature was not checked
	// (AllowUnverified without a keyring).
	Unverified bool      `json:"unverified,omitempty"`
	Stale      bool      `json:"-"`
	FetchedAt  time.Time `json:"-"`
}

// ErrArchNotServed is returned when a suite has no Packages index for the
// architecture asked for.
var ErrArchNotServed = errors.New("architecture not served")

// ErrNoKeyring is returned when indices cannot be verified for want of a
// keyring and AllowUnverified is not set.
var ErrNoKeyring = errors.New("no Debian archive keyring to verify InRelease")

// indexKey names the cache record of a suite's index; unverified indices
// are kept apart so they never serve a verified lookup.
func (a *Archive) indexKey(suite, arch string) string {
	// v2: candidates name their linux-modules-* package (7.x split).
	kind := "debian-index"
	if arch != "" && arch != ArchAMD64 {
		kind += "-" + arch
	}
	if a.Keyring == nil {
		kind += "-unverified"
	}
	return kind + " v2 " + a.Mirror + " " + suite
}

// Limits on what a mirror may send, checked before anything is allocated.
// Variables only so tests can lower them.
var (
	// MaxInRelease bounds an InRelease file.
	MaxInRelease int64 = 16 << 20
	// MaxPackagesFile bounds a compressed Packages index as InRelease lists it.
	MaxPackagesFile int64 = 128 << 20
	// MaxPackagesText bounds a decompressed Packages index.
	MaxPackagesText int64 = 1 << 30
	// MaxDeb bounds a kernel package as Packages lists it.
	MaxDeb int64 = 1 << 30
)

// Index returns the amd64 kernel candidates of suite: IndexFor amd64.
func (a *Archive) Index(ctx context.Context, suite string) (*Index, error) {
	return a.IndexFor(ctx, suite, ArchAMD64)
}

// IndexFor returns the kernel candidates of suite for arch (its
// main/binary-ARCH/Packages, verified like every index), from the cache
// while it is younger than TTL (or always when offline), else from the
// mirror. When the mirror cannot be reached a stale cached index is used and
// said so.
func (a *Archive) IndexFor(ctx context.Context, suite, arch string) (*Index, error) {
	if arch == "" {
		arch = ArchAMD64
	}
	if _, ok := flavours[arch]; !ok {
		return nil, fmt.Errorf("index of %s: no kernels for architecture %q", suite, arch)
	}
	key := a.indexKey(suite, arch)
	var cached Index
	written, cerr := a.Cache.GetRecord(key, &cached)
	fresh := cerr == nil && time.Since(written) < a.TTL
	if cerr == nil && (fresh || a.Offline) {
		cached.FetchedAt = written
		cached.Stale = !fresh
		return &cached, nil
	}
	if a.Offline {
		return nil, fmt.Errorf("index of %s: %w (run once without --offline)", suite, ErrOffline)
	}
	unlock, err := a.Cache.Lock(ctx, "debian-index-"+suite)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another process may have refreshed it while we waited.
	if w, err := a.Cache.GetRecord(key, &cached); err == nil && time.Since(w) < a.TTL {
		cached.FetchedAt = w
		return &cached, nil
	}
	idx, err := a.fetchIndex(ctx, suite, arch, cerr == nil, &cached)
	if err != nil {
		if cerr == nil {
			a.Progress.Stepf("warning: %v; using the cached index of %s from %s", err, suite, written.Format(time.RFC3339))
			cached.FetchedAt = written
			cached.Stale = true
			return &cached, nil
		}
		return nil, fmt.Errorf("%w (no cached copy)", err)
	}
	if err := a.Cache.PutRecord(key, idx); err != nil {
		return nil, err
	}
	idx.FetchedAt = time.Now()
	return idx, nil
}

func (a *Archive) fetchIndex(ctx context.Context, suite, arch string, haveOld bool, old *Index) (*Index, error) {
	rel, signer, err := a.release(ctx, suite)
	if err != nil {
		return nil, err
	}
	path, want, err := packagesFile(rel, suite, arch)
	if err != nil {
		return nil, err
	}
	idx := &Index{Suite: suite, Date: rel.Date, Signer: signer, PackagesPath: path, PackagesHash: want.SHA256, Unverified: a.Keyring == nil}
	if arch != ArchAMD64 {
		idx.Arch = arch
	}
	if haveOld && old.PackagesHash == want.SHA256 && old.PackagesPath == path {
		idx.Candidates, idx.Images, idx.Busybox = old.Candidates, old.Images, old.Busybox
		return idx, nil
	}
	pkgs, err := a.readPackages(ctx, suite, path, want, rel.AcquireByHash, KeepIndexEntry)
	if err != nil {
		return nil, err
	}
	idx.Candidates = FindCandidatesFor(suite, arch, pkgs)
	idx.Images = ImagePackages(pkgs)
	for _, p := range pkgs {
		if p.Name == BusyboxPackage {
			idx.Busybox = append(idx.Busybox, p)
		}
	}
	return idx, nil
}

// release fetches suite's InRelease, verifies its signature (unless
// AllowUnverified without a keyring) and parses it; it returns the signer.
func (a *Archive) release(ctx context.Context, suite string) (*Release, string, error) {
	u := a.Mirror + "/dists/" + suite + "/InRelease"
	if a.Keyring == nil && !a.AllowUnverified {
		return nil, "", fmt.Errorf("%s: %w (install debian-archive-keyring, or pass --allow-unverified to use unverified kernels)", u, ErrNoKeyring)
	}
	raw, err := a.get(ctx, u, MaxInRelease)
	if err != nil {
		return nil, "", err
	}
	var text []byte
	signer := ""
	if a.Keyring != nil {
		text, signer, err = VerifyInRelease(raw, a.Keyring)
	} else {
		text, err = UnsignedInRelease(raw)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", u, err)
	}
	rel, err := ParseRelease(text)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", u, err)
	}
	if rel.Codename != suite && rel.Suite != suite {
		return nil, "", fmt.Errorf("%s: describes suite %q (codename %q), not %q", u, rel.Suite, rel.Codename, suite)
	}
	return rel, signer, nil
}

// packagesFile picks the main/binary-ARCH Packages index that rel lists,
// gzip (fast to decompress) before xz; both are checked against the signed
// hash list.
func packagesFile(rel *Release, suite, arch string) (string, FileHash, error) {
	dir := "main/binary-" + arch + "/"
	for _, p := range []string{dir + "Packages.gz", dir + "Packages.xz"} {
		h, ok := rel.SHA256[p]
		if !ok {
			continue
		}
		if h.Size <= 0 || h.Size > MaxPackagesFile {
			return "", FileHash{}, fmt.Errorf("%s %s: %d bytes exceeds the limit of %d", suite, p, h.Size, MaxPackagesFile)
		}
		return p, h, nil
	}
	return "", FileHash{}, fmt.Errorf("%s InRelease lists no %sPackages.gz or .xz: %w", suite, dir, ErrArchNotServed)
}

// readPackages fetches the Packages index path of suite, checks it against
// want (from the verified InRelease), and parses the stanzas keep accepts.
func (a *Archive) readPackages(ctx context.Context, suite, path string, want FileHash, byHash bool, keep func(string) bool) ([]Package, error) {
	a.Progress.Stepf("fetching the %s index (%d KiB)", suite, want.Size>>10)
	pu, data, err := a.getIndexFile(ctx, suite, path, want, byHash)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != want.Size {
		return nil, fmt.Errorf("%s %s: got %d bytes, InRelease says %d", suite, path, len(data), want.Size)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != want.SHA256 {
		return nil, fmt.Errorf("%s %s from %s: sha256 %x does not match InRelease %s", suite, path, pu, sum, want.SHA256)
	}
	var r io.Reader
	if strings.HasSuffix(path, ".gz") {
		r, err = gzip.NewReader(bytes.NewReader(data))
	} else {
		br := bufio.NewReaderSize(bytes.NewReader(data), 1<<20)
		if err = checkXZ(br); err == nil {
			r, err = xz.NewReader(br)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pu, err)
	}
	pkgs, err := ParsePackages(LimitReader(r, MaxPackagesText, "decompressed "+path), keep)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", pu, err)
	}
	return pkgs, nil
}

// Packages returns the stanzas of suite's main/binary-ARCH Packages index
// whose package name keep accepts, read from the mirror and verified like
// every index (InRelease signature, then the index's size and SHA-256). It
// is not cached.
func (a *Archive) Packages(ctx context.Context, suite, arch string, keep func(name string) bool) ([]Package, error) {
	if a.Offline {
		return nil, fmt.Errorf("index of %s: %w", suite, ErrOffline)
	}
	rel, _, err := a.release(ctx, suite)
	if err != nil {
		return nil, err
	}
	path, want, err := packagesFile(rel, suite, arch)
	if err != nil {
		return nil, err
	}
	return a.readPackages(ctx, suite, path, want, rel.AcquireByHash, keep)
}

// getIndexFile fetches the index file path of suite that InRelease lists
// with want. With byHash it asks for by-hash/SHA256/<sum> first, which a
// mirror serves unchanged while it updates the plain path, and falls back to
// the plain path when that fails (a mirror that does not keep by-hash files).
// It returns the URL that answered and the body; the caller checks size and
// hash.
func (a *Archive) getIndexFile(ctx context.Context, suite, path string, want FileHash, byHash bool) (string, []byte, error) {
	base := a.Mirror + "/dists/" + suite + "/"
	if byHash {
		u := base + pathpkg.Dir(path) + "/by-hash/SHA256/" + want.SHA256
		data, err := a.get(ctx, u, want.Size)
		if err == nil {
			return u, data, nil
		}
		if ctx.Err() != nil {
			return u, nil, err
		}
	}
	u := base + path
	data, err := a.get(ctx, u, want.Size)
	return u, data, err
}

// ErrTooLarge is returned for data beyond a size limit.
var ErrTooLarge = errors.New("exceeds the size limit")

// LimitReader returns r, failing with ErrTooLarge (naming what) once more
// than max bytes are read.
func LimitReader(r io.Reader, max int64, what string) io.Reader {
	return &limitReader{r: r, left: max, max: max, what: what}
}

type limitReader struct {
	r         io.Reader
	left, max int64
	what      string
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, fmt.Errorf("%s: more than %d bytes: %w", l.what, l.max, ErrTooLarge)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n + int(l.left), fmt.Errorf("%s: more than %d bytes: %w", l.what, l.max, ErrTooLarge)
	}
	return n, err
}

// client returns the download client.
func (a *Archive) client() *download.Client {
	if a.Client != nil {
		return a.Client
	}
	return &download.Client{Role: "mirror"}
}

// get fetches u into memory, refusing bodies over max bytes before reading
// them when the server announces their size.
func (a *Archive) get(ctx context.Context, u string, max int64) ([]byte, error) {
	if a.Offline {
		return nil, fmt.Errorf("GET %s: %w", u, ErrOffline)
	}
	var data []byte
	err := a.client().Get(ctx, u, func(body io.Reader, size int64) error {
		if size > max {
			return fmt.Errorf("announced %d bytes, more than the limit of %d: %w", size, max, ErrTooLarge)
		}
		var err error
		data, err = io.ReadAll(LimitReader(body, max, "body"))
		return err
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// Fetched is a kernel extracted from a package into the cache.
type Fetched struct {
	ImageSHA256  string `json:"image_sha256"`
	ConfigSHA256 string `json:"config_sha256,omitempty"`
	// VmlinuzPath is the image's path inside the package.
	VmlinuzPath string `json:"vmlinuz_path"`
	// Modules is the kernel's modules tree (a modules.Builder archive),
	// read from the same verified packages; nil when they hold none.
	Modules *FetchedModules `json:"modules,omitempty"`
	// ModulesSchema says how the packages were read for modules: records
	// of an older schema (or none) make the package be read again.
	ModulesSchema int `json:"modules_schema,omitempty"`
}

// modulesSchema is the current ModulesSchema: modules from the image
// package, its linux-base-* package and its linux-modules-* package.
const modulesSchema = 2

// FetchedModules describes a cached modules archive.
type FetchedModules struct {
	SHA256      string `json:"sha256"`
	Release     string `json:"release"`
	Count       int    `json:"count"`
	Compression string `json:"compression"`
}

func debKey(sum string) string { return "debian-deb " + sum }

// Fetch returns the image (and config) of candidate c, downloading and
// verifying its package only when the cache lacks it or holds a corrupt copy.
func (a *Archive) Fetch(ctx context.Context, c Candidate) (*Fetched, error) {
	if f, ok := a.cached(c); ok {
		return f, nil
	}
	unlock, err := a.Cache.Lock(ctx, "debian-deb-"+c.Package.SHA256)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if f, ok := a.cached(c); ok {
		return f, nil
	}
	if a.Offline {
		return nil, fmt.Errorf("fetch %s %s: %w", c.Package.Name, c.Package.Version, ErrOffline)
	}
	return a.fetchKernel(ctx, c)
}

// fetchKernel downloads and verifies c's packages and extracts the image,
// config and modules into new blobs, which enter the cache only once
// everything was verified and read.
func (a *Archive) fetchKernel(ctx context.Context, c Candidate) (*Fetched, error) {
	img, err := a.Cache.Create()
	if err != nil {
		return nil, err
	}
	defer img.Abort()
	cfg, err := a.Cache.Create()
	if err != nil {
		return nil, err
	}
	defer cfg.Abort()
	modBlob, err := a.Cache.Create()
	if err != nil {
		return nil, err
	}
	defer modBlob.Abort()
	mods := modules.NewBuilder(modBlob)
	kf, err := a.extractCandidate(ctx, c, img, cfg, mods)
	if err != nil {
		return nil, err
	}
	f := &Fetched{VmlinuzPath: kf.Vmlinuz, ModulesSchema: modulesSchema}
	sum, err := mods.Finish()
	switch {
	case errors.Is(err, modules.ErrNoModules):
	case err != nil:
		return nil, fmt.Errorf("%s %s: kernel modules: %w", c.Package.Name, c.Package.Version, err)
	default:
		f.Modules = &FetchedModules{Release: sum.Release, Count: sum.Modules, Compression: string(sum.Compression)}
	}
	if f.ImageSHA256, _, err = img.Commit(""); err != nil {
		return nil, err
	}
	if kf.Config != "" {
		if f.ConfigSHA256, _, err = cfg.Commit(""); err != nil {
			return nil, err
		}
	}
	if f.Modules != nil {
		if f.Modules.SHA256, _, err = modBlob.Commit(""); err != nil {
			return nil, err
		}
	}
	if err := a.Cache.PutRecord(debKey(c.Package.SHA256), f); err != nil {
		return nil, err
	}
	return f, nil
}

// extractCandidate extracts c's image package into img and cfg and its
// modules into mods, and (the 7.x split) the config and modules the image
// package leaves to c.Base and c.Modules.
func (a *Archive) extractCandidate(ctx context.Context, c Candidate, img, cfg io.Writer, mods *modules.Builder) (KernelFiles, error) {
	kf, err := a.extract(ctx, c.Package, img, cfg, mods)
	if err != nil {
		return kf, err
	}
	if kf.Vmlinuz == "" {
		return kf, fmt.Errorf("%s %s: %w", c.Package.Name, c.Package.Version, ErrNoKernelInDeb)
	}
	if c.Base != nil {
		// The 7.x split: the image package may leave the config (and
		// modules) to the linux-image package.
		bcfg := io.Writer(io.Discard)
		if kf.Config == "" {
			bcfg = cfg
		}
		if bkf, err := a.extract(ctx, *c.Base, io.Discard, bcfg, mods); err != nil && !errors.Is(err, ErrNoKernelInDeb) {
			return kf, err
		} else if err == nil && kf.Config == "" {
			kf.Config = bkf.Config
		}
	}
	if c.Modules != nil {
		// The 7.x split: the modules have a package of their own.
		if _, err := a.extract(ctx, *c.Modules, io.Discard, io.Discard, mods); err != nil && !errors.Is(err, ErrNoKernelInDeb) {
			return kf, err
		}
	}
	return kf, nil
}

// cached returns the cached extraction of c when its blobs are intact.
func (a *Archive) cached(c Candidate) (*Fetched, bool) {
	var f Fetched
	if _, err := a.Cache.GetRecord(debKey(c.Package.SHA256), &f); err != nil {
		return nil, false
	}
	if _, err := a.Cache.Blob(f.ImageSHA256); err != nil {
		if errors.Is(err, cache.ErrCorrupt) {
			a.Progress.Stepf("warning: cached image of %s %s is corrupt; fetching it again", c.Package.Name, c.Package.Version)
		}
		return nil, false
	}
	if f.ConfigSHA256 != "" {
		if _, err := a.Cache.Blob(f.ConfigSHA256); err != nil {
			return nil, false
		}
	}
	if f.ModulesSchema != modulesSchema && !a.Offline {
		return nil, false // extracted before modules were: read the package again
	}
	if f.Modules != nil {
		if _, err := a.Cache.Blob(f.Modules.SHA256); err != nil {
			return nil, false
		}
	}
	return &f, true
}

// extract downloads package p into a temporary file, verifies its size and
// SHA-256 against the (signed) index, and extracts the kernel files.
func (a *Archive) extract(ctx context.Context, p Package, vmlinuz, config io.Writer, mods *modules.Builder) (KernelFiles, error) {
	tmp, err := a.Download(ctx, p)
	if err != nil {
		return KernelFiles{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	kf, err := ExtractKernelModules(tmp, vmlinuz, config, mods)
	if err != nil {
		return kf, fmt.Errorf("extract %s: %w", p.Filename, err)
	}
	return kf, nil
}

// Download fetches package p (a stanza of a verified index) into a
// temporary file of the cache and verifies its size and SHA-256 against the
// index. The caller closes and removes the file, which is positioned at its
// start.
func (a *Archive) Download(ctx context.Context, p Package) (*os.File, error) {
	u := a.Mirror + "/" + p.Filename
	if a.Offline {
		return nil, fmt.Errorf("GET %s: %w", u, ErrOffline)
	}
	if p.Size <= 0 || p.Size > MaxDeb {
		return nil, fmt.Errorf("%s: Packages lists %d bytes, more than the limit of %d: %w", p.Filename, p.Size, MaxDeb, ErrTooLarge)
	}
	tmp, err := a.Cache.TempFile("deb-*")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	err = a.client().Get(ctx, u, func(body io.Reader, _ int64) error {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := tmp.Truncate(0); err != nil {
			return err
		}
		h := sha256.New()
		r, done := a.Progress.Download(p.Name+"_"+p.Version, p.Size, io.LimitReader(body, p.Size+1))
		n, err := io.Copy(io.MultiWriter(tmp, h), r)
		done(err)
		if err != nil {
			return err
		}
		if n != p.Size {
			return fmt.Errorf("got %d bytes, Packages says %d", n, p.Size)
		}
		if sum := hex.EncodeToString(h.Sum(nil)); sum != p.SHA256 {
			return fmt.Errorf("sha256 %s does not match Packages %s", sum, p.SHA256)
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	return tmp, nil
}
