package kernels

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadBTFFake(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		members []string
		err     error
	}{
		{"pre-5.14 state", []string{"state", "start_boottime"}, nil},
		{"post-5.14 __state", []string{"__state", "start_boottime"}, nil},
		{"no BTF", nil, ErrNoBTF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			os.WriteFile(p, fakeImage(t, kv61, tt.members...), 0o644)
			if tt.err != nil {
				_, err := LoadBTF(p)
				require.ErrorIs(t, err, tt.err, "LoadBTF = %v, want %v", err, tt.err)
				return
			}
			m := members(t, p, "task_struct")
			for _, want := range tt.members {
				require.True(t, m[want], "task_struct members %v lack %s", m, want)
			}
			v, err := ReadVersion(p)
			require.NoError(t, err, "ReadVersion = %q,", v)
			require.Equal(t, kv61, v, "ReadVersion = %q, %v", v, err)
		})
	}
}

func TestLoadBTFNotBzImage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x")
	os.WriteFile(p, []byte(strings.Repeat("not a kernel", 100)), 0o644)
	_, err := LoadBTF(p)
	require.ErrorIs(t, err, ErrNotKernelImage, "LoadBTF(text file) = %v, want ErrNotKernelImage", err)
	require.False(t, IsBzImage(p), "IsBzImage(text file) = true")
	require.False(t, IsImage(p), "IsImage(text file) = true")
}
