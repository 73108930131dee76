// Package gotests is the Go test payload of the end-to-end tests.
package gotests

import (
	"os"
	"strings"
	"testing"
)

func TestInGuest(t *testing.T) {
	if os.Getenv("CM_VMTEST") != "1" {
		t.Fatalf("not in a vmtest guest (CM_VMTEST=%q)", os.Getenv("CM_VMTEST"))
	}
	t.Log("kernel", os.Getenv("CM_KERNEL"))
}

func TestTracefs(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/tracing/events"); err != nil {
		t.Fatal(err)
	}
}

func TestSkipped(t *testing.T) { t.Skip("skips on purpose") }

func TestSubtests(t *testing.T) {
	for _, n := range []string{"a", "b"} {
		t.Run(n, func(t *testing.T) { t.Parallel() })
	}
}

// TestModuleAutoload checks the kernel's module loader setting: the guest
// init empties it when the guest holds no modules, and leaves it when the
// run brought some (CM_E2E_MODULES=1, with files under /lib/modules).
func TestModuleAutoload(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/modprobe")
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	if os.Getenv("CM_E2E_MODULES") == "1" {
		want = "/sbin/modprobe"
	}
	if got := strings.TrimSpace(string(b)); got != want {
		t.Fatalf("/proc/sys/kernel/modprobe = %q, want %q", got, want)
	}
}
