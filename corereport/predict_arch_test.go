package corereport

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestObjectForArch(t *testing.T) {
	dir := t.TempDir()
	x86 := filepath.Join(dir, "tracer_x86_bpfel.o")
	arm := filepath.Join(dir, "tracer_arm64_bpfel.o")
	lone := filepath.Join(dir, "lone_x86_bpfel.o")
	other := filepath.Join(dir, "core.o")
	for _, p := range []string{x86, arm, lone, other} {
		os.WriteFile(p, nil, 0o644)
	}
	tests := []struct{ path, arch, want string }{
		{x86, "arm64", arm},
		{x86, "amd64", x86},
		{arm, "amd64", x86},
		{arm, "arm64", arm},
		{lone, "arm64", lone}, // no arm64 sibling: the object itself
		{other, "arm64", other},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ObjectForArch(tt.path, tt.arch), "%s for %s", tt.path, tt.arch)
	}
}
