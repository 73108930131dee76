// Package oci fetches kernel images from OCI images in the ci-kernels layout
// (ghcr.io/cilium/ci-kernels): a filesystem with the bzImage at /boot/vmlinuz
// and, optionally, its config at /boot/config and its modules tree at
// lib/modules/RELEASE or usr/lib/modules/RELEASE (kept as a modules archive,
// see package modules, so a guest can load them).
//
// It is one source of kernels: it may use kernels/bzimage, cache, modules and progress,
// and must not import package kernels (which wires the sources) or
// kernels/debian.
package oci
