package debian

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"

	"github.com/corematrix/corematrix/kernels/cache"
	"github.com/corematrix/corematrix/kernels/internal/fakearchive"
)

// hostileArchive serves bookworm with the given Packages.gz content and
// files, its InRelease signed by a key nobody trusts. It returns an Archive
// for it without a keyring, with AllowUnverified as given.
func hostileArchive(t *testing.T, packagesGz []byte, files map[string][]byte, allow bool) *Archive {
	t.Helper()
	sum := sha256.Sum256(packagesGz)
	rel := fmt.Sprintf("Suite: bookworm\nCodename: bookworm\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nSHA256:\n %x %d main/binary-amd64/Packages.gz\n", sum, len(packagesGz))
	all := map[string][]byte{
		"dists/bookworm/InRelease":                     fakearchive.Sign(t, fakearchive.NewKey(t), rel),
		"dists/bookworm/main/binary-amd64/Packages.gz": packagesGz,
	}
	maps.Copy(all, files)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := all[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	c, err := cache.Open(t.TempDir())
	require.NoError(t, err)
	return &Archive{Mirror: srv.URL, Cache: c, TTL: time.Hour, AllowUnverified: allow}
}

func gzipped(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, err := zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return b.Bytes()
}

// Without a keyring, an index signed by any key is refused.
func TestUnverifiedIndexRefusedWithoutAllowUnverified(t *testing.T) {
	a := hostileArchive(t, gzipped(t, []byte("Package: x\n")), nil, false)
	_, err := a.Index(context.Background(), "bookworm")
	require.ErrorIs(t, err, ErrNoKeyring)
	assert.Contains(t, err.Error(), "--allow-unverified")
	t.Log(err)
}

// With --allow-unverified, a small Packages.gz expanding beyond
// MaxPackagesText is refused while streaming, not read into memory.
func TestPackagesBombRefused(t *testing.T) {
	old := MaxPackagesText
	MaxPackagesText = 4 << 20
	t.Cleanup(func() { MaxPackagesText = old })
	stanza := "Package: linux-image-6.1.0-50-cloud-amd64\nVersion: 6.1.176-1\nFilename: pool/x.deb\nSize: 2000000\nSHA256: " + strings.Repeat("a", 64) + "\n\n"
	bomb := gzipped(t, bytes.Repeat([]byte(stanza), (12<<20)/len(stanza)))
	a := hostileArchive(t, bomb, nil, true)
	_, err := a.Index(context.Background(), "bookworm")
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "decompressed main/binary-amd64/Packages.gz: more than 4194304 bytes")
	t.Log(err)
}

// deb builds a .deb whose data.tar (uncompressed) holds one member whose
// header claims size bytes but carries none, padded to look like an image
// package.
func hugeMemberDeb(t *testing.T, name string, size int64) []byte {
	var data bytes.Buffer
	tw := tar.NewWriter(&data)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}))
	return fakearchive.Ar([]fakearchive.ArMember{
		{Name: "debian-binary", Data: []byte("2.0\n")},
		{Name: "pad", Data: make([]byte, 1100<<10)},
		{Name: "data.tar", Data: data.Bytes()},
	})
}

// A .deb whose image claims 4 GiB is refused before anything is
// written, and nothing but the index record remains in the cache.
func TestDebWithHugeImageLeavesNothing(t *testing.T) {
	deb := hugeMemberDeb(t, "./boot/vmlinuz-6.1.0-50-cloud-amd64", 4<<30)
	sum := sha256.Sum256(deb)
	pkgs := fmt.Sprintf("Package: linux-image-6.1.0-50-cloud-amd64\nSource: linux\nVersion: 6.1.176-1\nFilename: pool/k.deb\nSize: %d\nSHA256: %s\n", len(deb), hex.EncodeToString(sum[:]))
	a := hostileArchive(t, gzipped(t, []byte(pkgs)), map[string][]byte{"pool/k.deb": deb}, true)
	ctx := context.Background()
	idx, err := a.Index(ctx, "bookworm")
	require.NoError(t, err)
	require.True(t, idx.Unverified)
	require.Len(t, idx.Candidates, 1)
	_, err = a.Fetch(ctx, idx.Candidates[0])
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "4294967296 bytes, more than the limit")
	t.Log(err)
	for _, sub := range []string{"blobs/sha256", "tmp"} {
		ents, err := os.ReadDir(filepath.Join(a.Cache.Dir(), sub))
		require.NoError(t, err)
		assert.Empty(t, ents, "left in %s", sub)
	}
	recs, err := os.ReadDir(filepath.Join(a.Cache.Dir(), "records"))
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.True(t, strings.HasPrefix(recs[0].Name(), "debian-index-unverified"), recs[0].Name())
}

// A data.tar that expands beyond MaxDataTar ends in an error, not
// in minutes of decompression.
func TestDataTarBombRefused(t *testing.T) {
	old := MaxDataTar
	MaxDataTar = 1 << 20
	t.Cleanup(func() { MaxDataTar = old })
	var data bytes.Buffer
	tw := tar.NewWriter(&data)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "./usr/share/pad", Typeflag: tar.TypeReg, Mode: 0o644, Size: 8 << 20}))
	_, err := tw.Write(make([]byte, 8<<20))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	deb := fakearchive.Ar([]fakearchive.ArMember{
		{Name: "debian-binary", Data: []byte("2.0\n")},
		{Name: "data.tar.gz", Data: gzipped(t, data.Bytes())},
	})
	_, _, _, err = ExtractKernelBytes(bytes.NewReader(deb))
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "decompressed data.tar.gz: more than 1048576 bytes")
}

// An xz stream asking for a 4 GiB dictionary is refused before
// the decoder allocates it, in a .deb and in a Packages.xz alike.
func TestXZHugeDictionaryRefused(t *testing.T) {
	var buf bytes.Buffer
	w, err := xz.WriterConfig{DictCap: 1 << 20}.NewWriter(&buf)
	require.NoError(t, err)
	_, err = w.Write([]byte("some tar bytes"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	stream := buf.Bytes()
	i := bytes.Index(stream[13:], []byte{0x21, 0x01})
	require.GreaterOrEqual(t, i, 0, "LZMA2 filter in the block header")
	stream[13+i+2] = 40 // 4 GiB - 1
	deb := fakearchive.Ar([]fakearchive.ArMember{
		{Name: "debian-binary", Data: []byte("2.0\n")},
		{Name: "data.tar.xz", Data: stream},
	})
	_, _, _, err = ExtractKernelBytes(bytes.NewReader(deb))
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "asks for a 4294967295-byte dictionary")
}
