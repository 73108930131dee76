package kernel

import "context"

// Kernel is one kernel: what the user asked for and, once resolved, the
// image that answers it. Name and Arch are set from the start (Parse); the
// other fields are set by a Resolver and then never change.
//
// Its JSON form is the "kernel" object of every report; the host paths are
// left out (they mean nothing on another machine).
type Kernel struct {
	// Name is what the user asked for, exactly as written, with its
	// architecture suffix if it had one ("6.1", "6.1/arm64", "oci:...", a
	// path). Reports and report directories are keyed by it.
	Name string `json:"name"`
	// Arch is the architecture the kernel is built for and booted as: the
	// name's suffix, else the host's (HostArch). Empty in reports written
	// before it existed, which were all amd64.
	Arch Arch `json:"arch,omitempty"`
	// Spec is Name parsed (Parse sets it; Spec() parses Name when a Kernel
	// was built without Parse).
	Spec Name `json:"-"`

	// Version is the exact resolved version, e.g. "6.1.176".
	Version string `json:"version,omitempty"`
	// Release is what uname -r prints in the kernel, e.g.
	// "6.1.0-50-cloud-amd64", from the image (or, for a kernel whose image
	// did not say, from the guest).
	Release string `json:"release,omitempty"`
	// KernelVersion is the full version string of the image header.
	KernelVersion string `json:"kernel_version,omitempty"`
	// Source says where the image came from, e.g.
	// "debian:bookworm/linux-image-6.1.0-50-cloud-amd64=6.1.176-1",
	// "oci:ghcr.io/cilium/ci-kernels:5.4@sha256:...", "local:/path".
	Source string `json:"source,omitempty"`
	// SHA256 is the hex digest of the image.
	SHA256 string `json:"sha256,omitempty"`
	// Unverified says the image's source was used without verifying it
	// (--allow-unverified); every rendering marks such kernels.
	Unverified bool `json:"unverified,omitempty"`
	// PinnedElsewhere says kernels.lock pinned Name to a source a name of
	// its kind does not resolve to by default (another registry or image,
	// a local path for a version); every rendering marks such kernels.
	PinnedElsewhere bool `json:"pinned_elsewhere,omitempty"`
	// HasBTF says whether the image carries kernel BTF (a .BTF section).
	HasBTF bool `json:"has_btf,omitempty"`
	// Config holds the values of the config options that matter for eBPF
	// tracers ("y", "m", or "n" when unset), from the kernel's config file
	// or else the config embedded in the image; nil without either.
	Config map[string]string `json:"config,omitempty"`

	// Path is the image on the host (a bzImage on amd64).
	Path string `json:"-"`
	// ConfigPath is the kernel's config file on the host, empty when the
	// source has none; the guest gets it as /boot/config-$(uname -r).
	ConfigPath string `json:"-"`
	// Modules is the host directory holding the kernel's modules tree
	// (Modules/ModulesRelease/kernel/..., modules.dep, modules.alias), read
	// from the same verified package as the image; empty when there is
	// none, and ModulesMissing says why. ModulesCompression is how the
	// package compressed them (the tree holds them uncompressed).
	Modules            string `json:"-"`
	ModulesRelease     string `json:"modules_release,omitempty"`
	ModulesCompression string `json:"modules_compression,omitempty"`
	ModulesMissing     string `json:"modules_missing,omitempty"`
}

// Resolved reports whether a Resolver filled in the image.
func (k Kernel) Resolved() bool { return k.Path != "" }

// Parsed returns Spec, parsing Name when the Kernel was built without Parse.
func (k Kernel) Parsed() (Name, error) {
	if k.Spec.Kind != 0 {
		return k.Spec, nil
	}
	return ParseName(k.Name)
}

// Resolver finds the image of a kernel. It returns k with the image's
// fields filled in; Name and Arch stay as they were. An error means the
// kernel is unavailable, and its message is shown to the user as the reason.
type Resolver interface {
	Resolve(ctx context.Context, k Kernel) (Kernel, error)
}
