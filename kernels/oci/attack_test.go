package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels/cache"
)

// entry is one tar member of a test layer. A negative size writes a header
// claiming -size bytes with no content (a truncated member).
type entry struct {
	name, link string
	typ        byte
	data       []byte
	size       int64
}

func tarLayer(t *testing.T, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	truncated := false
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: 0o644, Size: int64(len(e.data)), Format: tar.FormatPAX}
		if e.size < 0 {
			h.Size = -e.size
		}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		require.NoError(t, tw.WriteHeader(h))
		if e.size < 0 {
			truncated = true
			break
		}
		_, err := tw.Write(e.data)
		require.NoError(t, err)
	}
	if !truncated {
		require.NoError(t, tw.Close())
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	require.NoError(t, err)
	return l
}

func image(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	require.NoError(t, err)
	return img
}

// serve runs an in-process registry on loopback behind handler wrap (nil:
// none) and returns its host.
func serve(t *testing.T, reg http.Handler, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	h := reg
	if wrap != nil {
		h = wrap(reg)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func newRegistry() http.Handler { return registry.New(registry.Logger(log.New(io.Discard, "", 0))) }

func push(t *testing.T, host, repo string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(host + "/" + repo)
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img))
	d, err := img.Digest()
	require.NoError(t, err)
	return d.String()
}

func layerDigest(t *testing.T, l v1.Layer) string {
	d, err := l.Digest()
	require.NoError(t, err)
	return d.String()
}

// swapBlobs serves the blob `to` wherever `from` is asked for, without a
// Content-Length, so only the digest check can catch it.
func swapBlobs(from, to string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/blobs/"+from) {
				r.URL.Path = strings.Replace(r.URL.Path, "/blobs/"+from, "/blobs/"+to, 1)
				if r.Method == http.MethodGet {
					w = noLength{w}
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

type noLength struct{ http.ResponseWriter }

func (n noLength) WriteHeader(code int) {
	n.Header().Del("Content-Length")
	n.ResponseWriter.WriteHeader(code)
}

func (n noLength) Write(p []byte) (int, error) {
	n.Header().Del("Content-Length")
	k, err := n.ResponseWriter.Write(p)
	n.ResponseWriter.(http.Flusher).Flush() // else net/http computes a length
	return k, err
}

// assertCacheEmpty checks that a refused image left no blob, record or
// temporary file behind.
func assertCacheEmpty(t *testing.T, c *cache.Cache) {
	t.Helper()
	for _, sub := range []string{"blobs/sha256", "records", "tmp"} {
		ents, err := os.ReadDir(filepath.Join(c.Dir(), sub))
		require.NoError(t, err)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		assert.Empty(t, names, "left in %s", sub)
	}
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func openCache(t *testing.T) *cache.Cache {
	c, err := cache.Open(t.TempDir())
	require.NoError(t, err)
	return c
}

// A registry serving the manifest of a good image with a swapped
// layer. The layer digest check must refuse it, leave nothing cached, and a
// later pull of the same digest from the good registry must get the good
// kernel.
func TestSwappedLayerIsRefusedAndDoesNotPoisonTheCache(t *testing.T) {
	reg := newRegistry()
	good := serve(t, reg, nil)
	goodLayer := tarLayer(t, entry{name: "boot/vmlinuz", data: []byte("kernel A")})
	evilLayer := tarLayer(t, entry{name: "boot/vmlinuz", data: []byte("kernel B")})
	digest := push(t, good, "ci-kernels:5.4", image(t, goodLayer))
	push(t, good, "other:x", image(t, evilLayer)) // the evil blob exists in the registry
	evil := serve(t, reg, swapBlobs(layerDigest(t, goodLayer), layerDigest(t, evilLayer)))

	c := openCache(t)
	_, err := Fetch(context.Background(), c, evil+"/ci-kernels@"+digest, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "verify layers: verifying layer: error verifying sha256 checksum")
	assert.Contains(t, err.Error(), layerDigest(t, goodLayer))
	t.Log(err)
	assertCacheEmpty(t, c)

	f, err := Fetch(context.Background(), c, good+"/ci-kernels@"+digest, nil)
	require.NoError(t, err)
	assert.Equal(t, sum([]byte("kernel A")), f.ImageSHA256)
	assert.Equal(t, good+"/ci-kernels", f.Repository)
	assert.Equal(t, []string{layerDigest(t, goodLayer)}, f.Layers)
	_, ok := Cached(c, evil+"/ci-kernels", digest)
	assert.False(t, ok, "the cache record names the registry it verified")
}

// A manifest whose layer digest is all zeros, the hostile registry serving
// any bytes for it, is refused.
func TestZeroLayerDigestIsRefused(t *testing.T) {
	reg := newRegistry()
	layer := tarLayer(t, entry{name: "boot/vmlinuz", data: []byte("the evil kernel")})
	zero := "sha256:" + strings.Repeat("0", 64)
	host := serve(t, reg, swapBlobs(zero, layerDigest(t, layer)))
	img := image(t, layer)
	push(t, host, "scratch:real", img)
	m, err := img.Manifest()
	require.NoError(t, err)
	m.Layers[0].Digest = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	raw, err := jsonManifest(m)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPut, "http://"+host+"/v2/ci-kernels/manifests/5.4", bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", string(m.MediaType))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	c := openCache(t)
	_, err = Fetch(context.Background(), c, host+"/ci-kernels:5.4", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "verify layers")
	t.Log(err)
	assertCacheEmpty(t, c)
}

// A layer holding an unsafe path (absolute, or climbing out with ..) is
// refused, and reported as such rather than as a missing kernel.
func TestUnsafeLayerPathIsRefused(t *testing.T) {
	host := serve(t, newRegistry(), nil)
	push(t, host, "ci-kernels:5.4", image(t, tarLayer(t,
		entry{name: "boot/vmlinuz", data: []byte("kernel")},
		entry{name: "../../etc/cron.d/x", data: []byte("* * * * * root evil")})))
	c := openCache(t)
	_, err := Fetch(context.Background(), c, host+"/ci-kernels:5.4", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unsafe tar path")
	assert.NotErrorIs(t, err, ErrNoKernel)
	assertCacheEmpty(t, c)
}

// A kernel file whose header claims more than the limit is
// refused before anything is written.
func TestHugeKernelFileIsRefusedBeforeWriting(t *testing.T) {
	host := serve(t, newRegistry(), nil)
	push(t, host, "ci-kernels:5.4", image(t, tarLayer(t, entry{name: "boot/vmlinuz", size: -(4 << 30)})))
	c := openCache(t)
	_, err := Fetch(context.Background(), c, host+"/ci-kernels:5.4", nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "boot/vmlinuz: 4294967296 bytes, more than the limit")
	assertCacheEmpty(t, c)
}

// A filesystem expanding beyond MaxFlattened is refused and the
// kernel read before it is not cached.
func TestExpandingLayerIsCapped(t *testing.T) {
	old := MaxFlattened
	MaxFlattened = 1 << 20
	t.Cleanup(func() { MaxFlattened = old })
	host := serve(t, newRegistry(), nil)
	push(t, host, "ci-kernels:5.4", image(t, tarLayer(t,
		entry{name: "boot/vmlinuz", data: []byte("kernel")},
		entry{name: "usr/filler", data: make([]byte, 4<<20)})))
	c := openCache(t)
	_, err := Fetch(context.Background(), c, host+"/ci-kernels:5.4", nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrTooLarge)
	assertCacheEmpty(t, c)
}

// An image with more boot/vmlinuz-N entries than the limit is refused and
// leaves no blobs in the cache.
func TestManyKernelFilesLeaveNoOrphans(t *testing.T) {
	var es []entry
	for i := range 200 {
		es = append(es, entry{name: fmt.Sprintf("boot/vmlinuz-%d", i), data: fmt.Append(nil, "kernel ", i)})
	}
	host := serve(t, newRegistry(), nil)
	push(t, host, "ci-kernels:5.4", image(t, tarLayer(t, es...)))
	c := openCache(t)
	_, err := Fetch(context.Background(), c, host+"/ci-kernels:5.4", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than 8 kernel and config files")
	assertCacheEmpty(t, c)
}

// boot/vmlinuz as a hard link inside the image is the kernel it links to.
func TestHardLinkedVmlinuz(t *testing.T) {
	host := serve(t, newRegistry(), nil)
	push(t, host, "ci-kernels:5.4", image(t, tarLayer(t,
		entry{name: "boot/vmlinuz-5.4.290", data: []byte("kernel 5.4.290")},
		entry{name: "boot/vmlinuz", typ: tar.TypeLink, link: "boot/vmlinuz-5.4.290"},
		entry{name: "boot/config", typ: tar.TypeLink, link: "etc/passwd"})))
	c := openCache(t)
	f, err := Fetch(context.Background(), c, host+"/ci-kernels:5.4", nil)
	require.NoError(t, err)
	assert.Equal(t, sum([]byte("kernel 5.4.290")), f.ImageSHA256)
	assert.Empty(t, f.ConfigSHA256, "a link to a file outside /boot is not followed")
}

func TestDifferentKernelsWithoutVmlinuzAreAmbiguous(t *testing.T) {
	host := serve(t, newRegistry(), nil)
	push(t, host, "ci-kernels:5.4", image(t, tarLayer(t,
		entry{name: "boot/vmlinuz-5.4.1", data: []byte("one")},
		entry{name: "boot/vmlinuz-5.4.2", data: []byte("two")})))
	c := openCache(t)
	_, err := Fetch(context.Background(), c, host+"/ci-kernels:5.4", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "boot/vmlinuz-5.4.1, boot/vmlinuz-5.4.2 and no /boot/vmlinuz")
	assertCacheEmpty(t, c)
}

func jsonManifest(m *v1.Manifest) ([]byte, error) { return json.Marshal(m) }

func TestHardLinkOutOfBoot(t *testing.T) {
	host := serve(t, newRegistry(), nil)
	push(t, host, "ci-kernels:5.4", image(t, tarLayer(t,
		entry{name: "usr/lib/modules/5.4/vmlinuz", data: []byte("kernel in modules")},
		entry{name: "boot/vmlinuz", typ: tar.TypeLink, link: "usr/lib/modules/5.4/vmlinuz"})))
	c := openCache(t)
	f, err := Fetch(context.Background(), c, host+"/ci-kernels:5.4", nil)
	require.NoError(t, err)
	assert.Equal(t, sum([]byte("kernel in modules")), f.ImageSHA256)

	push(t, host, "ci-kernels:5.5", image(t, tarLayer(t,
		entry{name: "etc/passwd", data: []byte("root:x:0:0")},
		entry{name: "boot/vmlinuz", typ: tar.TypeLink, link: "etc/passwd"})))
	c = openCache(t)
	_, err = Fetch(context.Background(), c, host+"/ci-kernels:5.5", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "boot/vmlinuz is a hard link to etc/passwd, which is neither a kernel file nor named vmlinuz*")
	assertCacheEmpty(t, c)
}
