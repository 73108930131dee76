// Package kernels turns a kernel (a kernel.Kernel parsed from a name: "6.1",
// "6.1.176", "latest", "deb:SUITE/PACKAGE", "oci:REF", a path) into a
// verified bzImage on disk: Resolver implements kernel.Resolver.
//
// Images come from the Debian archive (the mirror of this machine's apt
// sources, every index verified against the archive keyring; without one
// only with Options.AllowUnverified, and marked so), from OCI images in the
// ci-kernels layout (every layer checked against the manifest digest), or
// from local files. Every network wait has a deadline (package download)
// and every download and decompression a size limit. Downloads are kept in
// a content-addressed cache shared safely between processes. The package also
// reads a kernel's version and BTF straight from its bzImage, without booting.
//
// It knows nothing of tests or VMs: it may import kernel (the identity it
// fills in) and must not import vmtest, corereport, probes or harness.
package kernels
