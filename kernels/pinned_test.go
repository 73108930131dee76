package kernels

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/corematrix/corematrix/kernel"
)

// TestPinnedElsewhere checks which kernels.lock sources reports flag: a
// name pinned to a source its kind does not resolve to by default.
func TestPinnedElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name, source string
		want         bool
	}{
		{"6.1", "debian:bookworm/linux-image-6.1.0-50-cloud-amd64=6.1.176-1", false},
		{"5.15", "oci:" + DefaultOCIRepository + ":5.15@sha256:00", false},
		{"6.1", "oci:registry.invalid/evil/kernels:6.1@sha256:00", true},
		{"6.1", "local:/home/user/bzImage", true},
		{"latest", "oci:" + DefaultOCIRepository + "x:7.0@sha256:00", true},
		{"deb:bookworm/linux-image-6.1.0-50-cloud-amd64", "debian:bookworm/linux-image-6.1.0-50-cloud-amd64=6.1.176-1", false},
		{"deb:bookworm/linux-image-6.1.0-50-cloud-amd64", "local:/tmp/x", true},
		{"oci:registry.invalid/k:6.1", "oci:registry.invalid/k:6.1@sha256:00", false},
		{"oci:registry.invalid/k:6.1", "oci:registry.invalid/other:6.1@sha256:00", true},
		{"/boot/vmlinuz", "local:/boot/vmlinuz", false},
		{"/boot/vmlinuz", "local:/tmp/other", true},
	} {
		k, err := kernel.Parse(tc.name)
		if err != nil {
			k = kernel.Kernel{Name: tc.name}
		}
		assert.Equal(t, tc.want, pinnedElsewhere(k, tc.source), "%s pinned to %s", tc.name, tc.source)
	}
}
