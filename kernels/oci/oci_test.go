package oci

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

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
		got := kernelFile(in)
		assert.Equal(t, want, got, "kernelFile(%q) = %q, want %q", in, got, want)
	}
}
