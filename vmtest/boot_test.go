package vmtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/vmtest/wire"
)

// TestWatcherMarkerAcrossReads checks that a marker split between two reads
// of the growing results file is still found.
func TestWatcherMarkerAcrossReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serial1.raw")
	require.NoError(t, os.WriteFile(path, []byte("noise corematrix-init v1 hel"), 0o644))
	w, err := openWatcher(path, 1<<20)
	require.NoError(t, err)
	defer w.close()
	require.NoError(t, w.poll())
	require.False(t, w.seen(helloLine))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	f.WriteString("lo release=\"6.1\"\n")
	f.Close()
	require.NoError(t, w.poll())
	require.True(t, w.seen(helloLine))
	require.True(t, w.seen(helloLine), "stays seen")
	require.False(t, w.seen(payloadBegin))
	require.Equal(t, "noise corematrix-init v1 hello release=\"6.1\"\n", string(w.data), "each byte read once")
}

func TestWatcherSurfacesReadErrors(t *testing.T) {
	w, err := openWatcher(t.TempDir(), 1<<20) // a directory: open works, read fails
	require.NoError(t, err)
	defer w.close()
	require.ErrorContains(t, w.poll(), "read results")
	_, err = openWatcher(filepath.Join(t.TempDir(), "missing"), 1<<20)
	require.ErrorContains(t, err, "open results")
}

func TestHostEnv(t *testing.T) {
	got := HostEnv([]string{"GOFLAGS=-count=1", "GO111MODULE=on", "GOOGLE_APPLICATION_CREDENTIALS=/secret",
		"GOPROXY=https://user:token@proxy.example/go", "GOAUTH=netrc", "GONOSUMDB=*",
		"GO=x", "CI=true", "CIRCLE=1", "HOME=/root", "GOCOVERDIR=/tmp/c", "GOdebug=1",
		"GODEBUG=x=1,proxy=https://u:p@h.example", "GOMAXPROCS=2"})
	require.Equal(t, []string{"CI=true", "GOCOVERDIR=/tmp/c", "GODEBUG=x=1,proxy=https://***@h.example", "GOMAXPROCS=2"}, got)
}

// TestWatcherSeesGuestMarkers feeds the watcher what the guest init's
// writer really sends (a framed payload section) and checks every marker the
// timings need is found, so a change of the wire format cannot silently zero
// the breakdown.
func TestWatcherSeesGuestMarkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serial1.raw")
	f, err := os.Create(path)
	require.NoError(t, err)
	gw := wire.NewWriter(f)
	require.NoError(t, gw.Hello("6.1.0"))
	s, err := gw.BeginStreams(wire.SectionPayload)
	require.NoError(t, err)
	require.NoError(t, s.WriteFrame(wire.TagStdout, []byte("ok\n")))
	require.NoError(t, s.End(0, ""))
	require.NoError(t, f.Close())

	w, err := openWatcher(path, 1<<20)
	require.NoError(t, err)
	defer w.close()
	require.NoError(t, w.poll())
	for name, m := range map[string][]byte{"hello": helloLine, "payload begin": payloadBegin, "payload trailer": payloadTrailer} {
		require.True(t, w.seen(m), "%s marker not found in %q", name, w.data)
	}
}
