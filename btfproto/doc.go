// Package btfproto reads the prototypes of kernel functions from BTF: the
// parameter names and types and the return type, spelled as C spells them,
// and lines them up across kernels to show what changed.
//
// A kprobe reads its target's arguments by position (PT_REGS_PARM2 is
// whatever the second parameter is on the running kernel), so a prototype
// that gains or reorders parameters silently changes what the probe reads;
// CO-RE relocations cannot see it. vfs_unlink is the classic case: 5.10 has
// (dir, dentry, delegated_inode), 5.12 to 6.2 prepend struct user_namespace
// *mnt_userns, 6.3 and later struct mnt_idmap *idmap.
//
// Only functions present in the kernel's BTF have a prototype: a function
// the compiler inlined everywhere, or one that does not exist on that
// kernel, is ErrNotFound.
//
// It is offline analysis over BTF specs handed to it: it must not import any
// other corematrix package (kernels, vmtest, probes).
package btfproto
