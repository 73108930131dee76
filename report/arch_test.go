package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
)

// TestReportsShowArch checks that every rendering names each kernel's
// architecture, amd64 for a kernel recorded without one.
func TestReportsShowArch(t *testing.T) {
	s := Summary{Kernels: []KernelResult{
		{Kernel: kernel.Kernel{Name: "6.1/arm64", Arch: kernel.ARM64, Release: "6.1.0-50-cloud-arm64"}, Outcome: Pass},
		{Kernel: kernel.Kernel{Name: "6.1", Release: "6.1.0-50-cloud-amd64"}, Outcome: Pass},
	}}
	term := strings.Split(Terminal(s), "\n")
	require.GreaterOrEqual(t, len(term), 3)
	assert.Equal(t, []string{"KERNEL", "ARCH"}, strings.Fields(term[0])[:2])
	arch := map[string]string{}
	for _, l := range term[1:3] {
		f := strings.Fields(l)
		arch[f[0]] = f[1]
	}
	assert.Equal(t, map[string]string{"6.1/arm64": "arm64", "6.1": "amd64"}, arch, "terminal: %q", term)

	md := Markdown(s)
	assert.Contains(t, md, "| Kernel | Arch |")
	assert.Contains(t, md, "| `6.1/arm64` | arm64 |")
	assert.Contains(t, md, "| `6.1` | amd64 |")

	x, err := JUnit(s.Kernels[0])
	require.NoError(t, err)
	assert.Contains(t, string(x), `<property name="kernel.arch" value="arm64">`)
}
