package kernels

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
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
		{"6.1", Name{Raw: "6.1", Kind: KindLine, Version: "6.1"}},
		{"5.10", Name{Raw: "5.10", Kind: KindLine, Version: "5.10"}},
		{"6.1.176", Name{Raw: "6.1.176", Kind: KindExact, Version: "6.1.176"}},
		{"6.16.12-1~bpo13+1", Name{Raw: "6.16.12-1~bpo13+1", Kind: KindExact, Version: "6.16.12-1~bpo13+1"}},
		{"latest", Name{Raw: "latest", Kind: KindLatest}},
		{"deb:bookworm/linux-image-6.1.0-50-cloud-amd64", Name{Raw: "deb:bookworm/linux-image-6.1.0-50-cloud-amd64", Kind: KindDeb, Suite: "bookworm", Package: "linux-image-6.1.0-50-cloud-amd64"}},
		{"oci:ghcr.io/cilium/ci-kernels:5.4", Name{Raw: "oci:ghcr.io/cilium/ci-kernels:5.4", Kind: KindOCI, Ref: "ghcr.io/cilium/ci-kernels:5.4"}},
		{"/boot/vmlinuz-6.1", Name{Raw: "/boot/vmlinuz-6.1", Kind: KindPath, Path: "/boot/vmlinuz-6.1"}},
		{"./bzImage", Name{Raw: "./bzImage", Kind: KindPath, Path: "./bzImage"}},
		{"kernels/6.1", Name{Raw: "kernels/6.1", Kind: KindPath, Path: "kernels/6.1"}},
		{"file:bzImage", Name{Raw: "file:bzImage", Kind: KindPath, Path: "bzImage"}},
		{"bzImage", Name{Raw: "bzImage", Kind: KindPath, Path: "bzImage"}},
	}
	for _, tt := range tests {
		got, err := ParseName(tt.in)
		assert.NoError(t, err, "ParseName(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		assert.Equal(t, tt.want, got, "ParseName(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
	}
	for _, bad := range []string{"", "6", "v6.1", "6.x", "deb:bookworm", "deb:/pkg", "oci:", "lts", "06.1"} {
		got, err := ParseName(bad)
		assert.ErrorIs(t, err, ErrBadName, "ParseName(%q) = %+v, %v; want ErrBadName", bad, got, err)
	}
}
