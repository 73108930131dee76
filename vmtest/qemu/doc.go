// Package qemu builds QEMU command lines for a vmtest boot and decides which
// accelerator the host can really use.
//
// It imports only the standard library and must not import any corematrix
// package.
package qemu
