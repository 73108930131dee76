// Package gotests is the Go test payload of the end-to-end tests.
package gotests

import (
	"os"
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
