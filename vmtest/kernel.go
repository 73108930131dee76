// Package vmtest boots one kernel image in QEMU with an initramfs holding a
// static guest init and a payload, runs the payload, and brings back a verdict
// that can be trusted; it runs a matrix of kernels in parallel.
//
// It owns booting: it must not import kernels (kernel images come in through a
// Resolver that cmd/vmtest wires), corereport (offline predictions come in
// through Config.Predict), probes or harness.
package vmtest

import "context"

// Kernel is a resolved, verified kernel image on disk.
type Kernel struct {
	// Name is what the user asked for ("6.1", "oci:...", a path).
	Name string
	// Version is the exact resolved version, when known.
	Version string
	// Source says where the image came from.
	Source string
	// SHA256 of the image file.
	SHA256 string
	// Path is the bzImage on disk.
	Path string
	// Unverified says the image's source was used without verifying it
	// (--allow-unverified); reports mark it.
	Unverified bool
	// ConfigPath is the kernel's config file, empty when unknown; the guest
	// gets it as /boot/config-$(uname -r).
	ConfigPath string
	// Config holds config symbols known without a config file (from the
	// image's embedded config), nil when none are.
	Config map[string]string
	// Modules is the directory holding the kernel's modules tree
	// (Modules/ModulesRelease/...), from its own package; empty when it has
	// none, and ModulesMissing says why.
	Modules, ModulesRelease, ModulesMissing string
}

// Resolver turns a kernel name into a verified image on disk. An error means
// the kernel is unavailable; its message is shown to the user as the reason.
type Resolver func(ctx context.Context, name string) (Kernel, error)
