package kernels

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels/debian"
	"github.com/corematrix/corematrix/kernels/download"
	"github.com/corematrix/corematrix/kernels/internal/fakearchive"
	"github.com/corematrix/corematrix/kernels/internal/fakekernel"
	"github.com/corematrix/corematrix/kernels/progress"
)

var fastDeadlines = download.Deadlines{Connect: 300 * time.Millisecond, FirstByte: 300 * time.Millisecond, Idle: 300 * time.Millisecond, Total: 3 * time.Second}

// A mirror that accepts the connection and never answers makes the kernel
// unavailable within the configured deadlines: it cannot hang a run.
func TestSilentMirrorFailsWithinDeadlines(t *testing.T) {
	opts := Options{CacheDir: t.TempDir(), DebianMirror: "http://" + fakearchive.Silent(t), Suites: []string{"bookworm"},
		Keyring: fakearchive.WriteKeyring(t, t.TempDir(), fakearchive.NewKey(t)), OCIRepository: "none",
		Deadlines: fastDeadlines, Retry: download.Retry{Attempts: 2, Backoff: 10 * time.Millisecond}}
	start := time.Now()
	_, err := newResolver(t, opts).ResolveName(context.Background(), "6.1")
	require.Error(t, err)
	assert.ErrorIs(t, err, download.ErrNoAnswer)
	assert.Contains(t, err.Error(), "mirror "+strings.TrimPrefix(opts.DebianMirror, "http://")+" did not answer within 300ms")
	// Far less than DefaultDeadlines would wait: the configured ones applied.
	assert.Less(t, time.Since(start), 20*time.Second)
	t.Log(err)
}

// A registry that accepts the connection and never answers makes the
// kernel unavailable within the configured deadlines: it cannot hang a run.
func TestSilentRegistryFailsWithinDeadlines(t *testing.T) {
	opts := Options{CacheDir: t.TempDir(), DebianMirror: "http://127.0.0.1:1", OCIRepository: "none",
		Deadlines: fastDeadlines, Retry: download.Retry{Attempts: 2, Backoff: 10 * time.Millisecond}}
	start := time.Now()
	_, err := newResolver(t, opts).ResolveName(context.Background(), "oci:"+fakearchive.Silent(t)+"/ci-kernels:5.4")
	require.Error(t, err)
	assert.ErrorIs(t, err, download.ErrNoAnswer)
	assert.Contains(t, err.Error(), "did not answer within 300ms")
	assert.Less(t, time.Since(start), 20*time.Second, "far less than DefaultDeadlines would wait")
	t.Log(err)
}

// Without the keyring, Debian kernels are refused; with
// --allow-unverified they are marked unverified, and a verified run later
// does not reuse the unverified resolution.
func TestMissingKeyringFailsClosed(t *testing.T) {
	fa := newFakeArchive(t)
	cacheDir := t.TempDir()
	opts := testOptions(t, fa, cacheDir)
	opts.Keyring = filepath.Join(t.TempDir(), "missing.gpg")
	_, err := newResolver(t, opts).ResolveName(context.Background(), "6.1")
	require.ErrorIs(t, err, debian.ErrNoKeyring)
	assert.Contains(t, err.Error(), "--allow-unverified")
	t.Log(err)

	opts.AllowUnverified = true
	img, err := newResolver(t, opts).ResolveName(context.Background(), "6.1")
	require.NoError(t, err)
	assert.True(t, img.Unverified)
	assert.Contains(t, img.Source, "(unverified)")

	verified, err := newResolver(t, testOptions(t, fa, cacheDir)).ResolveName(context.Background(), "6.1")
	require.NoError(t, err)
	assert.False(t, verified.Unverified)
	assert.NotContains(t, verified.Source, "unverified")
	assert.Equal(t, img.SHA256, verified.SHA256)
}

// A corrupt .BTF section is not listed as BTF "yes"; and a version string
// with escape sequences is printed without them (it cannot drive the
// terminal).
func TestCorruptBTFIsNotListedAsBTF(t *testing.T) {
	raw, err := fakekernel.BTF("state")
	require.NoError(t, err)
	raw[len(raw)/2] ^= 0xff
	raw = raw[:len(raw)-7]
	payload, err := fakekernel.LZ4Legacy(fakekernel.ELF(".BTF", raw))
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "bzImage")
	require.NoError(t, os.WriteFile(p, fakekernel.BzImage("6.1.0-x\x1b[2J\x1b[H (evil) #1", payload), 0o644))
	_, err = LoadBTF(p)
	require.Error(t, err)
	img, err := newResolver(t, Options{CacheDir: t.TempDir(), DebianMirror: "http://127.0.0.1:1", OCIRepository: "none"}).ResolveName(context.Background(), p)
	require.NoError(t, err)
	assert.False(t, img.HasBTF, "kernels btf refuses it: %v", err)
	assert.Equal(t, "6.1.0-x[2J[H (evil) #1", img.KernelVersion)
}

// A silent mirror serving several suites: the list of offers fails with
// the mirror's silence said once, the retry said once per round, not once
// per suite (kernels list waited 93 s in silence, then printed the same line
// for each suite).
func TestSilentMirrorOffersSaidOnce(t *testing.T) {
	var steps bytes.Buffer
	addr := fakearchive.Silent(t)
	opts := Options{CacheDir: t.TempDir(), DebianMirror: "http://" + addr, Suites: []string{"bullseye", "bookworm", "trixie"},
		Keyring: fakearchive.WriteKeyring(t, t.TempDir(), fakearchive.NewKey(t)), OCIRepository: "none",
		Deadlines: fastDeadlines, Retry: download.Retry{Attempts: 2, Backoff: 10 * time.Millisecond}, Progress: progress.New(&steps, false)}
	start := time.Now()
	offers, err := newResolver(t, opts).Offers(context.Background())
	require.Error(t, err)
	assert.Empty(t, offers)
	assert.Less(t, time.Since(start), 5*time.Second)
	var me *multierror.Error
	require.ErrorAs(t, err, &me)
	require.Len(t, me.Errors, 1, "one failure for the three suites: %v", err)
	assert.Equal(t, "suites bullseye, bookworm, trixie: GET http://"+addr+"/dists/SUITE/InRelease: mirror "+addr+" did not answer within 300ms (tried 2 times) (no cached copy)", me.Errors[0].Error())
	assert.Equal(t, 1, strings.Count(steps.String(), "trying again"), "steps: %s", steps.String())
}
