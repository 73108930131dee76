// Package hostile is a test package that behaves as a hostile guest would:
// run by `go test -exec 'vmtest exec' -cpuprofile cpu.out -cover`, it
// plants files for the host in every way it can and prints workflow
// commands. TestE2EHostileGuest checks that none of it lands.
package hostile

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// plant writes, under dir, what must never reach the host.
func plant(t *testing.T, dir string) {
	t.Helper()
	write := func(p string, mode os.FileMode) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho pwned\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, ".git", "hooks", "pre-commit"), 0o755)
	write(filepath.Join(dir, "evil.sh"), 0o755)
	write(filepath.Join(dir, "..", "escape"), 0o644)
	if err := os.Symlink("/etc", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(dir, "link-target-dir", "x"), 0o644)
}

func TestHostile(t *testing.T) {
	if os.Getenv("CM_VMTEST") != "1" {
		t.Fatal("not in a vmtest guest")
	}
	if Touch() != 1 {
		t.Fatal("Touch")
	}
	out := flag.Lookup("test.outputdir").Value.String()
	cov := flag.Lookup("test.gocoverdir").Value.String()
	if out == "" || cov == "" {
		t.Fatalf("outputdir %q gocoverdir %q", out, cov)
	}
	plant(t, out)
	plant(t, cov)
	fmt.Println("::error file=.github/workflows/ci.yml,line=1::pwned by the guest")
	fmt.Println("::stop-commands::guessed")
	fmt.Println("##[error]legacy command from the guest")
	fmt.Println("::guessed::")
	fmt.Println("::add-mask::secret")
}
