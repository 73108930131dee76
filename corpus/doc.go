// Package corpus fetches BPF objects that Debian builds and ships, to
// measure the offline prediction (corereport) against real loads (vmtest
// load) on objects nobody in this project wrote.
//
// The packages are pinned by suite, architecture, name, version and SHA-256
// in pins.txt; they are read through kernels/debian (the suite's InRelease
// signature, the Packages index's hash, the package's hash), and the pin's
// SHA-256 must match the verified index. Nothing fetched is committed: the
// objects land in a directory the caller names.
//
// Objects come in two shapes: .o files (xdp-tools installs them under
// /usr/lib/bpf) and objects embedded in executables (libbpf skeletons, as
// the libbpf-tools binaries carry them): an ELF header of machine EM_BPF
// inside a file, the object's size being the end of its section header
// table.
//
// corpus must not import vmtest, corereport, probes or harness.
package corpus
