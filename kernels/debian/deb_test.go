package debian

import (
	"bytes"
	"errors"
	"testing"

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
			if err != nil {
				t.Fatal(err)
			}
			gotImg, gotCfg, kf, err := ExtractKernelBytes(bytes.NewReader(deb))
			if err != nil {
				t.Fatal(err)
			}
			if kf.Vmlinuz != tt.wantImg || kf.Config != tt.wantCfg {
				t.Fatalf("found %+v, want vmlinuz %q config %q", kf, tt.wantImg, tt.wantCfg)
			}
			if !bytes.Equal(gotImg, img) || !bytes.Equal(gotCfg, tt.k.Config) {
				t.Fatalf("extracted image %q config %q", gotImg, gotCfg)
			}
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
			if _, _, kf, err := ExtractKernelBytes(bytes.NewReader(tt.data)); err == nil {
				t.Fatalf("ExtractKernel = %+v, want an error", kf)
			}
		})
	}
	empty := fakearchive.Ar([]fakearchive.ArMember{{Name: "debian-binary", Data: []byte("2.0\n")}, {Name: "data.tar", Data: make([]byte, 1024)}})
	if _, _, _, err := ExtractKernelBytes(bytes.NewReader(empty)); !errors.Is(err, ErrNoKernelInDeb) {
		t.Fatalf("ExtractKernel(empty data.tar) = %v, want ErrNoKernelInDeb", err)
	}
}
