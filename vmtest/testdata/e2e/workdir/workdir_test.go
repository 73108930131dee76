package workdir

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFiles needs what go test gives a test on the host: its package
// directory as working directory, its own source, testdata (with a link),
// an -test.outputdir to write into, and a machine that looks like Linux.
func TestFiles(t *testing.T) {
	if Double(2) != 4 {
		t.Fatal("Double")
	}
	for name, want := range map[string]string{"testdata/in.txt": "read from testdata\n", "testdata/link.txt": "read from testdata\n"} {
		b, err := os.ReadFile(name)
		if err != nil || string(b) != want {
			t.Fatalf("%s: %q, %v", name, b, err)
		}
	}
	src, err := os.ReadFile("workdir_test.go")
	if err != nil || !strings.Contains(string(src), "func TestFiles") {
		t.Fatalf("own source: %v", err)
	}
	if _, err := os.Stat(".git"); err == nil {
		t.Fatal("a VCS folder travelled")
	}
	rel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile("/boot/config-" + strings.TrimSpace(string(rel)))
	if err != nil || !strings.Contains(string(cfg), "CONFIG_BPF_SYSCALL=y") {
		t.Fatalf("kernel config: %v", err)
	}
	if got := os.Getenv("CI"); got != "vmtest-e2e" {
		t.Fatalf("CI=%q", got)
	}
	if os.Getenv("HOSTONLY") != "" {
		t.Fatal("a host variable outside the rule travelled")
	}
	if d := os.Getenv("E2E_FILEDIR"); d != "" {
		if b, err := os.ReadFile(filepath.Join(d, "in.txt")); err != nil || string(b) != "read from testdata\n" {
			t.Fatalf("--file directory at %s: %q %v", d, b, err)
		}
	}
	dir := flag.Lookup("test.outputdir").Value.String()
	if dir == "" {
		t.Fatal("no -test.outputdir")
	}
	// An artifact comes back (go test -artifacts); a file written
	// anywhere else in the output directory does not.
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), "artifact.txt"), []byte("written in the guest\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stray.txt"), []byte("not asked for\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A write to a packed file stays in the guest.
	if err := os.WriteFile("testdata/in.txt", []byte("changed in the guest\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSlow prints 1000 lines over a few seconds, then stays quiet for a few
// more: a host that sees the lines before the guest exits streams them.
func TestSlow(t *testing.T) {
	for i := 1; i <= 1000; i++ {
		fmt.Printf("slow line %04d\n", i)
		time.Sleep(3 * time.Millisecond)
	}
	time.Sleep(4 * time.Second)
}

// TestHang outlives any -timeout.
func TestHang(t *testing.T) {
	time.Sleep(time.Hour)
}
