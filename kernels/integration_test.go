package kernels

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels/debian"
)

// realResolver returns a Resolver for the real Debian archive of this
// machine's apt sources, using the default cache so downloads are shared with
// `vmtest kernels fetch` and later runs. When the archive cannot be reached
// it resolves from the cache alone, and skips only when that is empty too.
func realResolver(t *testing.T, name string) (*Resolver, kernel.Kernel) {
	t.Helper()
	mirror := os.Getenv("CM_DEBIAN_MIRROR")
	if mirror == "" {
		m, err := debian.SystemMirror()
		if err != nil {
			t.Skipf("no Debian mirror in apt sources: %v", err)
		}
		mirror = m
	}
	opts := Options{DebianMirror: mirror}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, mirror+"/dists/bookworm/InRelease", nil)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
	} else {
		t.Logf("Debian archive unreachable (%v); resolving from the cache only", err)
		opts.Offline = true
	}
	r, err := New(opts)
	require.NoError(t, err)
	img, err := r.ResolveName(context.Background(), name)
	if opts.Offline && errors.Is(err, debian.ErrOffline) {
		t.Skipf("Debian archive unreachable and %s not cached: %v", name, err)
	}
	require.NoError(t, err)
	return r, img
}

func TestRealArchive(t *testing.T) {
	tests := []struct {
		name, suite string
		has, lacks  []string
	}{
		{"5.10", "bullseye", []string{"state", "start_boottime"}, []string{"__state", "real_start_time"}},
		{"6.1", "bookworm", []string{"__state", "start_boottime"}, []string{"state"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, img := realResolver(t, tt.name)
			require.True(t, strings.HasPrefix(img.Version, tt.name+"."), "Resolve(%s) = version %q source %q", tt.name, img.Version, img.Source)
			require.True(t, strings.HasPrefix(img.Source, "debian:"+tt.suite+"/linux-"), "Resolve(%s) = version %q source %q", tt.name, img.Version, img.Source)
			assert.Contains(t, img.KernelVersion, "Debian "+img.Version, "bzImage version string %q does not name Debian %s", img.KernelVersion, img.Version)
			for _, k := range []string{"CONFIG_DEBUG_INFO_BTF", "CONFIG_KPROBES", "CONFIG_BPF_EVENTS", "CONFIG_SERIAL_8250_CONSOLE"} {
				assert.EqualValues(t, "y", img.Config[k], "%s=%q, want y", k, img.Config[k])
			}
			require.True(t, img.HasBTF, "HasBTF = false")
			m := members(t, img.Path, "task_struct")
			for _, f := range tt.has {
				assert.True(t, m[f], "task_struct of %s lacks %s", img.Version, f)
			}
			for _, f := range tt.lacks {
				assert.False(t, m[f], "task_struct of %s has %s", img.Version, f)
			}
		})
	}
}
