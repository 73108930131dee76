// Package armimage reads arm64 Linux boot images: the raw `Image` the arm64
// build produces (arch/arm64/boot/Image), as Debian ships it in
// /boot/vmlinuz-*, and the same image gzip-compressed (Image.gz, which
// other distributions name vmlinuz). It finds the image's header, the
// kernel's version banner and its BTF: the image is not ELF, so the BTF blob
// is found by its header (magic 0xEB9F) and checked by parsing it.
//
// The layout is described in the kernel's Documentation/arch/arm64/booting.rst.
// It is one reader of kernel images and must not import any other corematrix
// package.
package armimage
