// Package initramfs writes the newc cpio archive a guest boots from: the
// static guest init as /init, busybox with its applet links, the payload and
// any extra files.
//
// The archive holds no device nodes: every kernel built with initrd support
// unpacks its built-in default archive (which holds /dev/console) before the
// external one, so init starts with its console open.
//
// It owns the archive format only and must not import any other corematrix
// package.
package initramfs
