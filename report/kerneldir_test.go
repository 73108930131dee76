package report

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestKernelDirKeepsPlainNames(t *testing.T) {
	for _, name := range []string{"6.1", "5.10", "latest", "6.12.57-1", "linux_7.3"} {
		got := KernelDir("/r", name)
		assert.Equal(t, "/r/"+name, got, "KernelDir(/r, %q) = %q, want /r/%s", name, got, name)
	}
}

func TestKernelDirMakesTrickyNamesSafe(t *testing.T) {
	safe := regexp.MustCompile(`^[A-Za-z0-9._+-]+$`)
	tests := []struct{ name, prefix string }{
		{"oci:ghcr.io/cilium/ci-kernels:5.4", "oci-ghcr.io-cilium-ci-kernels-5.4+"},
		{"/path/to/bzImage", "path-to-bzImage+"},
		{"deb:trixie/linux-image-6.12.57+deb13-cloud-amd64", "deb-trixie-linux-image-6.12.57-deb13-cloud-amd64+"},
		{"..", "kernel+"},
		{".", "kernel+"},
		{"", "kernel+"},
		{"-rf", "rf+"},
		{".hidden", "hidden+"},
		{"a b\tc\nd", "a-b-c-d+"},
		{"ünïcode/ß", "n-code+"},
		{`C:\kernels\bzImage`, "C-kernels-bzImage+"},
		{"/very/long/" + strings.Repeat("x", 300) + "/vmlinuz-6.1", strings.Repeat("x", 52) + "-vmlinuz-6.1+"},
	}
	for _, tc := range tests {
		got := kernelDirName(tc.name)
		assert.True(t, strings.HasPrefix(got, tc.prefix), "kernelDirName(%q) = %q, want %q followed by 12 hex digits", tc.name, got, tc.prefix)
		assert.Len(t, got, len(tc.prefix)+12, "kernelDirName(%q) = %q, want %q followed by 12 hex digits", tc.name, got, tc.prefix)
		assert.True(t, safe.MatchString(got), "kernelDirName(%q) = %q, not a safe directory name", tc.name, got)
		assert.NotEqual(t, ".", got, "kernelDirName(%q) = %q, not a safe directory name", tc.name, got)
		assert.NotEqual(t, "..", got, "kernelDirName(%q) = %q, not a safe directory name", tc.name, got)
		assert.False(t, strings.HasPrefix(got, "-"), "kernelDirName(%q) = %q, not a safe directory name", tc.name, got)
		assert.False(t, strings.HasPrefix(got, "."), "kernelDirName(%q) = %q, not a safe directory name", tc.name, got)
		dir := KernelDir("/r", tc.name)
		assert.EqualValues(t, "/r", filepath.Dir(dir), "KernelDir(/r, %q) = %q, escapes the root", tc.name, dir)
		again := kernelDirName(tc.name)
		assert.Equal(t, got, again, "kernelDirName(%q) is not stable: %q then %q", tc.name, got, again)
	}
}

func TestKernelDirKeepsNamesApart(t *testing.T) {
	// Names that reduce to the same readable text, and a plain name that
	// looks like a reduced one, must still get different directories.
	names := []string{
		"oci:ghcr.io/cilium/ci-kernels:5.4", "oci/ghcr.io/cilium/ci-kernels/5.4",
		"oci-ghcr.io-cilium-ci-kernels-5.4", "/a/b", "a/b", "a:b", "a-b", "6.1", "/6.1", "6.1/",
	}
	seen := map[string]string{}
	for _, n := range names {
		d := kernelDirName(n)
		other, dup := seen[d]
		assert.False(t, dup, "kernelDirName(%q) = kernelDirName(%q) = %q", n, other, d)
		seen[d] = n
	}
}

func TestKernelOrderIsVersionAware(t *testing.T) {
	want := []string{"oci:ghcr.io/cilium/ci-kernels:5.4", "5.10", "/tmp/k/vmlinuz-5.15", "6.1", "6.1.158", "6.12", "6.18", "7.3", "latest", "sid"}
	for _, in := range [][]string{
		{"latest", "6.12", "5.10", "sid", "7.3", "6.1", "/tmp/k/vmlinuz-5.15", "6.18", "oci:ghcr.io/cilium/ci-kernels:5.4", "6.1.158"},
		{"sid", "latest", "7.3", "6.18", "6.12", "6.1.158", "6.1", "/tmp/k/vmlinuz-5.15", "5.10", "oci:ghcr.io/cilium/ci-kernels:5.4"},
	} {
		ks := make([]KernelResult, len(in))
		for i, n := range in {
			ks[i].Kernel.Name = n
		}
		SortKernels(ks)
		var got []string
		for _, k := range ks {
			got = append(got, k.Kernel.Name)
		}
		assert.True(t, slices.Equal(got, want), "SortKernels(%q) = %q, want %q", in, got, want)
	}
}
