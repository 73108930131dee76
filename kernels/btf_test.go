package kernels

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
				if _, err := LoadBTF(p); !errors.Is(err, tt.err) {
					t.Fatalf("LoadBTF = %v, want %v", err, tt.err)
				}
				return
			}
			m := members(t, p, "task_struct")
			for _, want := range tt.members {
				if !m[want] {
					t.Fatalf("task_struct members %v lack %s", m, want)
				}
			}
			if v, err := ReadVersion(p); err != nil || v != kv61 {
				t.Fatalf("ReadVersion = %q, %v", v, err)
			}
		})
	}
}

func TestLoadBTFNotBzImage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x")
	os.WriteFile(p, []byte(strings.Repeat("not a kernel", 100)), 0o644)
	if _, err := LoadBTF(p); !errors.Is(err, ErrNotBzImage) {
		t.Fatalf("LoadBTF(text file) = %v, want ErrNotBzImage", err)
	}
	if IsBzImage(p) {
		t.Fatal("IsBzImage(text file) = true")
	}
}
