package kernels

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// memberNames returns the names of the members of the struct typ in spec.
func memberNames(t *testing.T, spec *btf.Spec, typ string) map[string]bool {
	t.Helper()
	var s *btf.Struct
	if err := spec.TypeByName(typ, &s); err != nil {
		t.Fatalf("struct %s: %v", typ, err)
	}
	m := map[string]bool{}
	for _, mem := range s.Members {
		m[mem.Name] = true
	}
	return m
}

func TestLoadBTFLocal61(t *testing.T) {
	const path = "/tmp/k/vmlinuz-6.1"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no scratch 6.1 image: %v", err)
	}
	spec, err := LoadBTF(path)
	if err != nil {
		t.Fatal(err)
	}
	m := memberNames(t, spec, "task_struct")
	if !m["__state"] || m["state"] {
		t.Fatalf("6.1 task_struct: __state=%v state=%v, want __state only", m["__state"], m["state"])
	}
	v, err := ReadVersion(path)
	if err != nil || !strings.HasPrefix(v, "6.1.0-") {
		t.Fatalf("ReadVersion = %q, %v", v, err)
	}
}

func TestLoadBTFNotBzImage(t *testing.T) {
	p := t.TempDir() + "/x"
	os.WriteFile(p, []byte(strings.Repeat("not a kernel", 100)), 0o644)
	if _, err := LoadBTF(p); !errors.Is(err, ErrNotBzImage) {
		t.Fatalf("LoadBTF(text file) = %v, want ErrNotBzImage", err)
	}
}
