package debian

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels/internal/fakearchive"
)

func TestExtractKernel(t *testing.T) {
	img := []byte("pretend bzImage")
	cfg := []byte("CONFIG_DEBUG_INFO_BTF=y\n")
	tests := []struct {
		name             string
		k                fakearchive.Kernel
		wantImg, wantCfg string
	}{
		{"boot layout", fakearchive.Kernel{Package: "linux-image-6.1.0-50-cloud-amd64", Version: "6.1.176-1", Release: "6.1.0-50-cloud-amd64", Image: img, Config: cfg},
			"./boot/vmlinuz-6.1.0-50-cloud-amd64", "./boot/config-6.1.0-50-cloud-amd64"},
		{"7.x modules layout without config", fakearchive.Kernel{Package: "linux-binary-7.2.13+deb14-cloud-amd64", Version: "7.2.13-1", Release: "7.2.13+deb14-cloud-amd64", Image: img, Modules: true},
			"./usr/lib/modules/7.2.13+deb14-cloud-amd64/vmlinuz", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deb, err := fakearchive.Deb(tt.k)
			require.NoError(t, err)
			gotImg, gotCfg, kf, err := ExtractKernelBytes(bytes.NewReader(deb))
			require.NoError(t, err)
			require.Equal(t, tt.wantImg, kf.Vmlinuz, "found %+v, want vmlinuz %q config %q", kf, tt.wantImg, tt.wantCfg)
			require.Equal(t, tt.wantCfg, kf.Config, "found %+v, want vmlinuz %q config %q", kf, tt.wantImg, tt.wantCfg)
			require.Equal(t, img, gotImg, "extracted image %q config %q", gotImg, gotCfg)
			require.Equal(t, tt.k.Config, gotCfg, "extracted image %q config %q", gotImg, gotCfg)
		})
	}
}

func TestExtractKernelErrors(t *testing.T) {
	noKernel := fakearchive.Ar([]fakearchive.ArMember{{Name: "debian-binary", Data: []byte("2.0\n")}})
	tests := []struct {
		name string
		data []byte
	}{
		{"not an ar archive", []byte("PK\x03\x04 zip")},
		{"no data member", noKernel},
		{"truncated", []byte("!<arch>\ndebian-binary   0   ")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, kf, err := ExtractKernelBytes(bytes.NewReader(tt.data))
			require.Error(t, err, "ExtractKernel = %+v, want an error", kf)
		})
	}
	empty := fakearchive.Ar([]fakearchive.ArMember{{Name: "debian-binary", Data: []byte("2.0\n")}, {Name: "data.tar", Data: make([]byte, 1024)}})
	_, _, _, err := ExtractKernelBytes(bytes.NewReader(empty))
	require.ErrorIs(t, err, ErrNoKernelInDeb, "ExtractKernel(empty data.tar) = %v, want ErrNoKernelInDeb", err)
}
