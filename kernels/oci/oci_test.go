package oci

import "testing"

func TestKernelFile(t *testing.T) {
	tests := map[string]string{
		"boot/vmlinuz":           "vmlinuz",
		"./boot/vmlinuz":         "vmlinuz",
		"/boot/vmlinuz-5.4.290":  "vmlinuz",
		"boot/config":            "config",
		"boot/config-5.4.290":    "config",
		"boot/System.map":        "",
		"usr/src/boot/vmlinuz":   "",
		"boot/vmlinuz/../passwd": "",
	}
	for in, want := range tests {
		if got := kernelFile(in); got != want {
			t.Errorf("kernelFile(%q) = %q, want %q", in, got, want)
		}
	}
}
