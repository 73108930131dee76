package kernels

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/corematrix/corematrix/kernels/modules/modulestest"
)

const kv54 = "5.4.290 (root@buildkitsandbox) #1 SMP Mon Jan 1 00:00:00 UTC 2026"

// testRegistry serves an in-process registry holding REGISTRY/ci-kernels:5.4,
// a multi-platform index whose linux/amd64 image has the ci-kernels layout.
// It returns the registry host and a request counter.
func testRegistry(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	amd64, err := crane.Image(map[string][]byte{
		"boot/vmlinuz": fakeImage(t, kv54, "state", "real_start_time"),
		"boot/config":  []byte(testConfig),
	})
	require.NoError(t, err)
	arm64, err := crane.Image(map[string][]byte{"boot/vmlinuz": arm64Image(t, "6.6.0-ci-arm64", "__arm64_sys_openat")})
	require.NoError(t, err)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	ref, err := name.ParseReference(host + "/ci-kernels:5.4")
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(ref, idx))
	return host, &hits
}

func TestResolveOCI(t *testing.T) {
	host, hits := testRegistry(t)
	opts := Options{CacheDir: t.TempDir(), DebianMirror: "http://127.0.0.1:1", OCIRepository: "none"}
	ctx := context.Background()
	kname := "oci:" + host + "/ci-kernels:5.4"
	img, err := newResolver(t, opts).ResolveName(ctx, kname)
	require.NoError(t, err)
	if img.Version != "5.4.290" || !img.HasBTF || img.Config["CONFIG_DEBUG_INFO_BTF"] != "y" ||
		!strings.HasPrefix(img.Source, "oci:"+host+"/ci-kernels@sha256:") {
		require.Fail(t, fmt.Sprintf("Resolve(%s) = %+v", kname, img))
	}
	m := members(t, img.Path, "task_struct")
	require.True(t, m["real_start_time"], "5.4 task_struct members = %v; want the amd64 image's real_start_time", m)
	before := hits.Load()
	again, err := newResolver(t, opts).ResolveName(ctx, kname)
	require.NoError(t, err, "second Resolve = %+v,", again)
	require.EqualValues(t, img.SHA256, again.SHA256, "second Resolve = %+v, %v", again, err)
	n := hits.Load() - before
	require.EqualValues(t, 0, n, "cached OCI resolution made %d registry requests, want 0", n)
}

// An arm64 name pulls the index's linux/arm64 image; the amd64 name of the
// same reference the amd64 one.
func TestResolveOCIARM64(t *testing.T) {
	host, _ := testRegistry(t)
	opts := Options{CacheDir: t.TempDir(), DebianMirror: "http://127.0.0.1:1", OCIRepository: "none"}
	ctx := context.Background()
	r := newResolver(t, opts)
	arm, err := r.ResolveName(ctx, "oci:"+host+"/ci-kernels:5.4/arm64")
	require.NoError(t, err)
	require.EqualValues(t, "arm64", arm.Arch)
	require.Equal(t, "6.6.0-ci-arm64", arm.Release)
	require.True(t, arm.HasBTF)
	amd, err := r.ResolveName(ctx, "oci:"+host+"/ci-kernels:5.4")
	require.NoError(t, err)
	require.EqualValues(t, "amd64", amd.Arch)
	require.NotEqual(t, arm.SHA256, amd.SHA256)
}

func TestResolveFallsBackToOCI(t *testing.T) {
	host, _ := testRegistry(t)
	fa := newFakeArchive(t)
	opts := testOptions(t, fa, "")
	opts.OCIRepository = host + "/ci-kernels"
	img, err := newResolver(t, opts).ResolveName(context.Background(), "5.4")
	require.NoError(t, err)
	require.EqualValues(t, "5.4", img.Name, "Resolve(5.4) = %+v; want the OCI image", img)
	require.EqualValues(t, "5.4.290", img.Version, "Resolve(5.4) = %+v; want the OCI image", img)
	require.True(t, strings.HasPrefix(img.Source, "oci:"), "Resolve(5.4) = %+v; want the OCI image", img)
}

// TestResolveOCIModules: an image carrying a modules tree under
// usr/lib/modules/RELEASE gives the kernel that tree (decompressed into the
// cache, with modules.dep), again from the cache on a second Resolve
// without the registry; an image without one says so.
func TestResolveOCIModules(t *testing.T) {
	host, hits := testRegistry(t)
	rel := "5.4.290-ci"
	fuse := modulestest.Fake("name=fuse", "alias=fs-fuse", "depends=")
	virtiofs := modulestest.Fake("name=virtiofs", "alias=fs-virtiofs", "depends=fuse")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write(virtiofs)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	img, err := crane.Image(map[string][]byte{
		"boot/vmlinuz": fakeImage(t, kv54, "state", "real_start_time"),
		"boot/config":  []byte(testConfig),
		"usr/lib/modules/" + rel + "/kernel/fs/fuse/fuse.ko":          fuse,
		"usr/lib/modules/" + rel + "/kernel/fs/fuse/virtiofs.ko.gz":   gz.Bytes(),
		"usr/lib/modules/" + rel + "/modules.order":                   []byte("kernel/fs/fuse/fuse.ko\n"),
		"usr/lib/modules/" + rel + "/kernel/fs/fuse/not-a-module.txt": []byte("ignored\n"),
	})
	require.NoError(t, err)
	ref, err := name.ParseReference(host + "/kernel-with-modules:5.4")
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img))

	opts := Options{CacheDir: t.TempDir(), DebianMirror: "http://127.0.0.1:1", OCIRepository: "none"}
	ctx := context.Background()
	k, err := newResolver(t, opts).ResolveName(ctx, "oci:"+host+"/kernel-with-modules:5.4")
	require.NoError(t, err)
	require.Empty(t, k.ModulesMissing)
	require.Equal(t, rel, k.ModulesRelease)
	require.Equal(t, "mixed", k.ModulesCompression)
	dep, err := os.ReadFile(filepath.Join(k.Modules, rel, "modules.dep"))
	require.NoError(t, err)
	require.Equal(t, "kernel/fs/fuse/fuse.ko:\nkernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko\n", string(dep))
	got, err := os.ReadFile(filepath.Join(k.Modules, rel, "kernel/fs/fuse/virtiofs.ko"))
	require.NoError(t, err)
	require.Equal(t, virtiofs, got, "modules are stored decompressed")

	before := hits.Load()
	again, err := newResolver(t, opts).ResolveName(ctx, "oci:"+host+"/kernel-with-modules:5.4")
	require.NoError(t, err)
	require.Equal(t, k.Modules, again.Modules)
	require.EqualValues(t, 0, hits.Load()-before, "the cached image's modules came from the registry")

	plain, err := newResolver(t, opts).ResolveName(ctx, "oci:"+host+"/ci-kernels:5.4")
	require.NoError(t, err)
	require.Empty(t, plain.Modules)
	require.Equal(t, "its OCI image carries no modules (lib/modules or usr/lib/modules)", plain.ModulesMissing)
}
