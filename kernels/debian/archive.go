package debian

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	pathpkg "path"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ulikunitz/xz"

	"github.com/corematrix/corematrix/kernels/cache"
	"github.com/corematrix/corematrix/kernels/progress"
)

// ErrOffline is returned when a network fetch is needed in offline mode.
var ErrOffline = errors.New("offline and not in cache")

// Archive reads kernel packages from one Debian mirror through a cache.
type Archive struct {
	// Mirror is the archive's base URL (the URIs of an apt source).
	Mirror string
	// Keyring verifies InRelease files. When nil, indices are used
	// unverified (only when no keyring is installed; see New).
	Keyring openpgp.EntityList
	Cache   *cache.Cache
	Client  *http.Client
	// TTL is how long a suite's index is used before it is fetched again.
	TTL time.Duration
	// Offline forbids network access: only cached indices and images.
	Offline  bool
	Progress *progress.Reporter
}

// Index is a suite's kernel candidates as last fetched.
type Index struct {
	Suite        string      `json:"suite"`
	Date         string      `json:"date"`
	Signer       string      `json:"signer"`
	PackagesPath string      `json:"packages_path"`
	PackagesHash string      `json:"packages_sha256"`
	Candidates   []Candidate `json:"candidates"`
	// Images are the image packages of every flavour.
	Images    []Package `json:"images"`
	Stale     bool      `json:"-"`
	FetchedAt time.Time `json:"-"`
}

func (a *Archive) indexKey(suite string) string {
	return "debian-index " + a.Mirror + " " + suite
}

// Index returns the kernel candidates of suite, from the cache while it is
// younger than TTL (or always when offline), else from the mirror. When the
// mirror cannot be reached a stale cached index is used and said so.
func (a *Archive) Index(ctx context.Context, suite string) (*Index, error) {
	var cached Index
	written, cerr := a.Cache.GetRecord(a.indexKey(suite), &cached)
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
	if w, err := a.Cache.GetRecord(a.indexKey(suite), &cached); err == nil && time.Since(w) < a.TTL {
		cached.FetchedAt = w
		return &cached, nil
	}
	idx, err := a.fetchIndex(ctx, suite, cerr == nil, &cached)
	if err != nil {
		if cerr == nil {
			a.Progress.Stepf("warning: %v; using the cached index of %s from %s", err, suite, written.Format(time.RFC3339))
			cached.FetchedAt = written
			cached.Stale = true
			return &cached, nil
		}
		return nil, fmt.Errorf("%w (no cached copy)", err)
	}
	if err := a.Cache.PutRecord(a.indexKey(suite), idx); err != nil {
		return nil, err
	}
	idx.FetchedAt = time.Now()
	return idx, nil
}

func (a *Archive) fetchIndex(ctx context.Context, suite string, haveOld bool, old *Index) (*Index, error) {
	u := a.Mirror + "/dists/" + suite + "/InRelease"
	raw, err := a.get(ctx, u, 64<<20)
	if err != nil {
		return nil, err
	}
	var text []byte
	signer := ""
	if a.Keyring != nil {
		text, signer, err = VerifyInRelease(raw, a.Keyring)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u, err)
		}
	} else if text, err = UnsignedInRelease(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	rel, err := ParseRelease(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	if rel.Codename != suite && rel.Suite != suite {
		return nil, fmt.Errorf("%s: describes suite %q (codename %q), not %q", u, rel.Suite, rel.Codename, suite)
	}
	// Prefer gzip (fast to decompress) and fall back to xz; both are
	// checked against the signed hash list.
	var path string
	var want FileHash
	for _, p := range []string{"main/binary-amd64/Packages.gz", "main/binary-amd64/Packages.xz"} {
		if h, ok := rel.SHA256[p]; ok {
			path, want = p, h
			break
		}
	}
	if path == "" {
		return nil, fmt.Errorf("%s lists no main/binary-amd64/Packages.gz or .xz", u)
	}
	idx := &Index{Suite: suite, Date: rel.Date, Signer: signer, PackagesPath: path, PackagesHash: want.SHA256}
	if haveOld && old.PackagesHash == want.SHA256 && old.PackagesPath == path {
		idx.Candidates, idx.Images = old.Candidates, old.Images
		return idx, nil
	}
	a.Progress.Stepf("fetching the %s index (%d KiB)", suite, want.Size>>10)
	pu, data, err := a.getIndexFile(ctx, suite, path, want, rel.AcquireByHash)
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
		r, err = xz.NewReader(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pu, err)
	}
	pkgs, err := ParsePackages(r, KeepIndexEntry)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", pu, err)
	}
	idx.Candidates = FindCandidates(suite, pkgs)
	idx.Images = ImagePackages(pkgs)
	return idx, nil
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
		data, err := a.get(ctx, u, want.Size+1)
		if err == nil {
			return u, data, nil
		}
		if ctx.Err() != nil {
			return u, nil, err
		}
	}
	u := base + path
	data, err := a.get(ctx, u, want.Size+1)
	return u, data, err
}

// get fetches u into memory, refusing bodies over max bytes.
func (a *Archive) get(ctx context.Context, u string, max int64) ([]byte, error) {
	body, _, err := a.open(ctx, u)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("GET %s: body larger than %d bytes", u, max)
	}
	return data, nil
}

func (a *Archive) open(ctx context.Context, u string) (io.ReadCloser, int64, error) {
	if a.Offline {
		return nil, 0, fmt.Errorf("GET %s: %w", u, ErrOffline)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	c := a.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL
		}
		return nil, 0, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return resp.Body, resp.ContentLength, nil
}

// Fetched is a kernel extracted from a package into the cache.
type Fetched struct {
	ImageSHA256  string `json:"image_sha256"`
	ConfigSHA256 string `json:"config_sha256,omitempty"`
	// VmlinuzPath is the image's path inside the package.
	VmlinuzPath string `json:"vmlinuz_path"`
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
	kf, err := a.extract(ctx, c.Package, img, cfg)
	if err != nil {
		return nil, err
	}
	if kf.Vmlinuz == "" {
		return nil, fmt.Errorf("%s %s: %w", c.Package.Name, c.Package.Version, ErrNoKernelInDeb)
	}
	f := &Fetched{VmlinuzPath: kf.Vmlinuz}
	if f.ImageSHA256, _, err = img.Commit(""); err != nil {
		return nil, err
	}
	if kf.Config == "" && c.Base != nil {
		if bkf, err := a.extract(ctx, *c.Base, io.Discard, cfg); err != nil && !errors.Is(err, ErrNoKernelInDeb) {
			return nil, err
		} else if err == nil {
			kf.Config = bkf.Config
		}
	}
	if kf.Config != "" {
		if f.ConfigSHA256, _, err = cfg.Commit(""); err != nil {
			return nil, err
		}
	}
	if err := a.Cache.PutRecord(debKey(c.Package.SHA256), f); err != nil {
		return nil, err
	}
	return f, nil
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
	return &f, true
}

// extract downloads package p into a temporary file, verifies its size and
// SHA-256 against the (signed) index, and extracts the kernel files.
func (a *Archive) extract(ctx context.Context, p Package, vmlinuz, config io.Writer) (KernelFiles, error) {
	u := a.Mirror + "/" + p.Filename
	tmp, err := a.Cache.TempFile("deb-*")
	if err != nil {
		return KernelFiles{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	body, _, err := a.open(ctx, u)
	if err != nil {
		return KernelFiles{}, err
	}
	h := sha256.New()
	r, done := a.Progress.Download(p.Name+"_"+p.Version, p.Size, io.LimitReader(body, p.Size+1))
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	body.Close()
	done(err)
	if err != nil {
		return KernelFiles{}, fmt.Errorf("GET %s: %w", u, err)
	}
	if n != p.Size {
		return KernelFiles{}, fmt.Errorf("GET %s: got %d bytes, Packages says %d", u, n, p.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != p.SHA256 {
		return KernelFiles{}, fmt.Errorf("GET %s: sha256 %s does not match Packages %s", u, sum, p.SHA256)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return KernelFiles{}, err
	}
	kf, err := ExtractKernel(tmp, vmlinuz, config)
	if err != nil {
		return kf, fmt.Errorf("extract %s: %w", p.Filename, err)
	}
	return kf, nil
}
