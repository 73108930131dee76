package kernel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseName(t *testing.T) {
	dir := t.TempDir()
	bare := filepath.Join(dir, "bzImage")
	os.WriteFile(bare, []byte("x"), 0o644)
	t.Chdir(dir)
	tests := []struct {
		in   string
		want Name
	}{
		{"6.1", Name{Raw: "6.1", Arch: HostArch(), Kind: KindLine, Version: "6.1"}},
		{"5.10", Name{Raw: "5.10", Arch: HostArch(), Kind: KindLine, Version: "5.10"}},
		{"6.1.176", Name{Raw: "6.1.176", Arch: HostArch(), Kind: KindExact, Version: "6.1.176"}},
		{"6.16.12-1~bpo13+1", Name{Raw: "6.16.12-1~bpo13+1", Arch: HostArch(), Kind: KindExact, Version: "6.16.12-1~bpo13+1"}},
		{"latest", Name{Raw: "latest", Arch: HostArch(), Kind: KindLatest}},
		{"deb:bookworm/linux-image-6.1.0-50-cloud-amd64", Name{Raw: "deb:bookworm/linux-image-6.1.0-50-cloud-amd64", Arch: HostArch(), Kind: KindDeb, Suite: "bookworm", Package: "linux-image-6.1.0-50-cloud-amd64"}},
		{"oci:ghcr.io/cilium/ci-kernels:5.4", Name{Raw: "oci:ghcr.io/cilium/ci-kernels:5.4", Arch: HostArch(), Kind: KindOCI, Ref: "ghcr.io/cilium/ci-kernels:5.4"}},
		{"/boot/vmlinuz-6.1", Name{Raw: "/boot/vmlinuz-6.1", Arch: HostArch(), Kind: KindPath, Path: "/boot/vmlinuz-6.1"}},
		{"./bzImage", Name{Raw: "./bzImage", Arch: HostArch(), Kind: KindPath, Path: "./bzImage"}},
		{"kernels/6.1", Name{Raw: "kernels/6.1", Arch: HostArch(), Kind: KindPath, Path: "kernels/6.1"}},
		{"file:bzImage", Name{Raw: "file:bzImage", Arch: HostArch(), Kind: KindPath, Path: "bzImage"}},
		{"bzImage", Name{Raw: "bzImage", Arch: HostArch(), Kind: KindPath, Path: "bzImage"}},
	}
	for _, tt := range tests {
		got, err := ParseName(tt.in)
		assert.NoError(t, err, "ParseName(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		assert.Equal(t, tt.want, got, "ParseName(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
	}
	arm := []struct {
		in   string
		want Name
	}{
		{"6.1/arm64", Name{Raw: "6.1/arm64", Arch: ARM64, Kind: KindLine, Version: "6.1"}},
		{"6.1.176/amd64", Name{Raw: "6.1.176/amd64", Arch: AMD64, Kind: KindExact, Version: "6.1.176"}},
		{"latest/arm64", Name{Raw: "latest/arm64", Arch: ARM64, Kind: KindLatest}},
		{"oci:ghcr.io/cilium/ci-kernels:6.18/arm64", Name{Raw: "oci:ghcr.io/cilium/ci-kernels:6.18/arm64", Arch: ARM64, Kind: KindOCI, Ref: "ghcr.io/cilium/ci-kernels:6.18"}},
		{"./bzImage/arm64", Name{Raw: "./bzImage/arm64", Arch: ARM64, Kind: KindPath, Path: "./bzImage"}},
		// A Debian package whose name ends like an architecture is a package.
		{"deb:bookworm/arm64", Name{Raw: "deb:bookworm/arm64", Arch: HostArch(), Kind: KindDeb, Suite: "bookworm", Package: "arm64"}},
	}
	for _, tt := range arm {
		got, err := ParseName(tt.in)
		assert.NoError(t, err, "ParseName(%q)", tt.in)
		assert.Equal(t, tt.want, got, "ParseName(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		want := tt.in
		if tt.want.Kind != KindDeb {
			want = strings.TrimSuffix(strings.TrimSuffix(tt.in, "/arm64"), "/amd64")
		}
		assert.Equal(t, want, got.Base(), "ParseName(%q).Base()", tt.in)
	}
	// A path that exists as written keeps its "/arm64" ending.
	require.NoError(t, os.Mkdir(filepath.Join(dir, "arm64"), 0o755))
	got, err := ParseName("./arm64")
	require.NoError(t, err)
	assert.Equal(t, Name{Raw: "./arm64", Arch: HostArch(), Kind: KindPath, Path: "./arm64"}, got)
	got, err = ParseName(dir + "/arm64")
	require.NoError(t, err)
	assert.Equal(t, Name{Raw: dir + "/arm64", Arch: HostArch(), Kind: KindPath, Path: dir + "/arm64"}, got, "an existing directory named arm64")
	for _, bad := range []string{"", "6", "v6.1", "6.x", "deb:bookworm", "deb:/pkg", "oci:", "lts", "06.1", "6.1/", "6.1/riscv", "latest/arm"} {
		got, err := ParseName(bad)
		assert.ErrorIs(t, err, ErrBadName, "ParseName(%q) = %+v, %v; want ErrBadName", bad, got, err)
	}
}

func TestParseKernel(t *testing.T) {
	k, err := Parse("6.1/arm64")
	require.NoError(t, err)
	assert.Equal(t, "6.1/arm64", k.Name, "the name stays as asked")
	assert.Equal(t, ARM64, k.Arch)
	assert.False(t, k.Resolved(), "a parsed kernel has no image yet")
	n, err := k.Parsed()
	require.NoError(t, err)
	assert.Equal(t, "6.1", n.Version)

	// A Kernel written as a literal parses its name on demand.
	n, err = Kernel{Name: "5.10"}.Parsed()
	require.NoError(t, err)
	assert.Equal(t, Name{Raw: "5.10", Arch: HostArch(), Kind: KindLine, Version: "5.10"}, n)

	_, err = Parse("6.x")
	assert.ErrorIs(t, err, ErrBadName)
}
