// Package debian reads kernel images from a Debian archive: apt source
// lists, signed InRelease files, Packages indices, version ordering and .deb
// extraction, all in Go without dpkg or apt.
//
// It is one source of kernels: it may use kernels/bzimage, cache, download and
// progress, and must not import package kernels (which wires the sources) or
// kernels/oci.
package debian
