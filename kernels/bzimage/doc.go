// Package bzimage reads x86 Linux boot images (bzImage): the setup header,
// the kernel version string and the compressed vmlinux payload.
//
// The layout is described in the kernel's Documentation/arch/x86/boot.rst.
// Boot protocol 2.08 (kernel 2.6.26) or newer is required, since older images
// do not record where the payload is.
//
// It owns the boot image format only and must not import the other kernels
// packages (sources, cache) or anything above them.
package bzimage
