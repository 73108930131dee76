package debian

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels/cache"
	"github.com/corematrix/corematrix/kernels/internal/fakearchive"
)

func testArchive(t *testing.T) (*fakearchive.Archive, *Archive) {
	t.Helper()
	fa := fakearchive.New(t, nil, []fakearchive.Kernel{
		{Suite: "bookworm", Package: "linux-image-6.1.0-50-cloud-amd64", Version: "6.1.176-1", Release: "6.1.0-50-cloud-amd64",
			Image: []byte("image 6.1.176"), Config: []byte("CONFIG_X=y\n")},
		{Suite: "bookworm", Package: "linux-image-6.1.0-49-cloud-amd64", Version: "6.1.170-1", Release: "6.1.0-49-cloud-amd64",
			Image: []byte("image 6.1.170"), Config: []byte("CONFIG_X=y\n")},
	})
	kr, err := ReadKeyring(fa.Keyring)
	require.NoError(t, err)
	c, err := cache.Open(t.TempDir())
	require.NoError(t, err)
	return fa, &Archive{Mirror: fa.URL(), Keyring: kr, Cache: c, TTL: time.Hour}
}

func TestArchiveIndexAndFetch(t *testing.T) {
	fa, a := testArchive(t)
	ctx := context.Background()
	idx, err := a.Index(ctx, "bookworm")
	require.NoError(t, err)
	require.Len(t, idx.Candidates, 2, "candidates = %+v, want 6.1.176 then 6.1.170", idx.Candidates)
	require.EqualValues(t, "6.1.176", idx.Candidates[0].Upstream, "candidates = %+v, want 6.1.176 then 6.1.170", idx.Candidates)
	f, err := a.Fetch(ctx, idx.Candidates[0])
	require.NoError(t, err)
	p, err := a.Cache.Blob(f.ImageSHA256)
	require.NoError(t, err)
	got, _ := os.ReadFile(p)
	require.EqualValues(t, "image 6.1.176", string(got), "cached image = %q", got)

	// Again: nothing is fetched, neither the index (within TTL) nor the deb.
	before := fa.Hits("")
	_, err = a.Index(ctx, "bookworm")
	require.NoError(t, err)
	_, err = a.Fetch(ctx, idx.Candidates[0])
	require.NoError(t, err)
	n := fa.Hits("") - before
	require.EqualValues(t, 0, n, "second resolve made %d requests, want 0", n)

	// A corrupt cached image is detected and fetched again.
	os.WriteFile(p, []byte("bit rot"), 0o644)
	_, err = a.Fetch(ctx, idx.Candidates[0])
	require.NoError(t, err)
	got, _ = os.ReadFile(p)
	require.EqualValues(t, "image 6.1.176", string(got), "re-fetched image = %q", got)
	n = fa.Hits(".deb")
	require.EqualValues(t, 2, n, "deb downloaded %d times, want 2 (once more after corruption)", n)
}

func TestArchiveRejectsTampering(t *testing.T) {
	ctx := context.Background()
	t.Run("deb", func(t *testing.T) {
		fa, a := testArchive(t)
		idx, err := a.Index(ctx, "bookworm")
		require.NoError(t, err)
		c := idx.Candidates[0]
		deb := append([]byte(nil), fa.Get(c.Package.Filename)...)
		deb[len(deb)-1] ^= 0xff
		fa.Set(c.Package.Filename, deb)
		_, err = a.Fetch(ctx, c)
		require.Error(t, err, "Fetch of a tampered deb = %v, want a hash mismatch", err)
		require.Contains(t, err.Error(), "does not match Packages", "Fetch of a tampered deb = %v, want a hash mismatch", err)
	})
	t.Run("packages", func(t *testing.T) {
		fa, a := testArchive(t)
		fa.Set("dists/bookworm/main/binary-amd64/Packages.gz", []byte("\x1f\x8b tampered"))
		_, err := a.Index(ctx, "bookworm")
		require.Error(t, err, "Index with a tampered Packages.gz = %v, want an error naming it", err)
		require.Contains(t, err.Error(), "Packages.gz", "Index with a tampered Packages.gz = %v, want an error naming it", err)
	})
	t.Run("signature", func(t *testing.T) {
		fa, a := testArchive(t)
		other := fakearchive.NewKey(t)
		text, _ := UnsignedInRelease(fa.Get("dists/bookworm/InRelease"))
		fa.Set("dists/bookworm/InRelease", fakearchive.Sign(t, other, string(text)))
		_, err := a.Index(ctx, "bookworm")
		require.ErrorIs(t, err, ErrBadSignature, "Index signed by a foreign key = %v, want ErrBadSignature naming the URL", err)
		require.Contains(t, err.Error(), fa.URL()+"/dists/bookworm/InRelease", "Index signed by a foreign key = %v, want ErrBadSignature naming the URL", err)
	})
	t.Run("wrong suite", func(t *testing.T) {
		fa, a := testArchive(t)
		fa.Set("dists/trixie/InRelease", fa.Get("dists/bookworm/InRelease"))
		_, err := a.Index(ctx, "trixie")
		require.Error(t, err, "Index of trixie served bookworm's InRelease = %v, want a suite mismatch", err)
		require.Contains(t, err.Error(), "not \"trixie\"", "Index of trixie served bookworm's InRelease = %v, want a suite mismatch", err)
	})
}

func TestArchiveOfflineAndStale(t *testing.T) {
	fa, a := testArchive(t)
	ctx := context.Background()
	a.Offline = true
	_, err := a.Index(ctx, "bookworm")
	require.ErrorIs(t, err, ErrOffline, "offline Index with an empty cache = %v, want ErrOffline", err)
	a.Offline = false
	idx, err := a.Index(ctx, "bookworm")
	require.NoError(t, err)
	// Expired TTL and the mirror down: the stale index is used, flagged.
	a.TTL = time.Nanosecond
	fa.Server.Close()
	stale, err := a.Index(ctx, "bookworm")
	require.NoError(t, err, "Index with the mirror down = %+v, %v; want the stale cached index", stale, err)
	require.True(t, stale.Stale, "Index with the mirror down = %+v, %v; want the stale cached index", stale, err)
	require.Len(t, stale.Candidates, len(idx.Candidates), "Index with the mirror down = %+v, %v; want the stale cached index", stale, err)
	// Offline with a cached index of any age works; the image is not cached.
	a.Offline = true
	_, err = a.Index(ctx, "bookworm")
	require.NoError(t, err, "offline Index with a cached index")
	_, err = a.Fetch(ctx, idx.Candidates[0])
	require.ErrorIs(t, err, ErrOffline, "offline Fetch of an uncached image = %v, want ErrOffline", err)
	// Mirror down and nothing cached: the error names the URL and says so.
	a.Offline = false
	_, err = a.Index(ctx, "trixie")
	require.Error(t, err, "Index of an unreachable suite = %v, want the URL and \"no cached copy\"", err)
	require.Contains(t, err.Error(), "/dists/trixie/InRelease", "Index of an unreachable suite = %v, want the URL and \"no cached copy\"", err)
	require.Contains(t, err.Error(), "no cached copy", "Index of an unreachable suite = %v, want the URL and \"no cached copy\"", err)
}

// A mirror caught in the middle of an update serves a newer Packages file
// at the plain path than the one its InRelease lists. With Acquire-By-Hash
// the index is fetched by its signed hash, so the update does not matter;
// a mirror without by-hash files is still read through the plain path.
func TestArchiveIndexByHash(t *testing.T) {
	ctx := context.Background()
	byHash := func(t *testing.T, fa *fakearchive.Archive) (plain, hashed string) {
		text, err := UnsignedInRelease(fa.Get("dists/bookworm/InRelease"))
		require.NoError(t, err)
		rel, err := ParseRelease(text)
		require.NoError(t, err)
		want := rel.SHA256["main/binary-amd64/Packages.gz"]
		fa.Set("dists/bookworm/InRelease", fakearchive.Sign(t, fa.Signer, string(text)+"Acquire-By-Hash: yes\n"))
		return "dists/bookworm/main/binary-amd64/Packages.gz", "dists/bookworm/main/binary-amd64/by-hash/SHA256/" + want.SHA256
	}
	t.Run("mid-update mirror", func(t *testing.T) {
		fa, a := testArchive(t)
		plain, hashed := byHash(t, fa)
		fa.Set(hashed, fa.Get(plain))
		fa.Set(plain, []byte("\x1f\x8b a newer index than InRelease lists"))
		idx, err := a.Index(ctx, "bookworm")
		require.NoError(t, err)
		require.Len(t, idx.Candidates, 2)
		require.Equal(t, 1, fa.Hits("by-hash/SHA256/"+idx.PackagesHash))
		require.Zero(t, fa.Hits("Packages.gz"), "the plain path must not be read when by-hash answers")
	})
	t.Run("no by-hash files", func(t *testing.T) {
		fa, a := testArchive(t)
		byHash(t, fa)
		idx, err := a.Index(ctx, "bookworm")
		require.NoError(t, err)
		require.Len(t, idx.Candidates, 2)
		require.Equal(t, 1, fa.Hits("Packages.gz"))
	})
	t.Run("tampered by-hash file", func(t *testing.T) {
		fa, a := testArchive(t)
		plain, hashed := byHash(t, fa)
		fa.Set(hashed, []byte("\x1f\x8b tampered"))
		fa.Set(plain, []byte("\x1f\x8b tampered too"))
		_, err := a.Index(ctx, "bookworm")
		require.ErrorContains(t, err, "Packages.gz")
	})
}
