// Package beneath creates, writes and reads files beneath a directory
// without following any symbolic link on the way: every path component is
// opened relative to its parent's file descriptor with O_NOFOLLOW, and ".."
// or an absolute path is refused before anything is opened. A link planted
// where a directory or file belongs (by a hostile guest, a report shard or a
// checkout) is an error naming it, and nothing is written through it.
//
// The directory itself is named by the caller (a --report directory, a
// package directory): links among its ancestors are the caller's choice and
// are followed; its last component must not be a link.
//
// It needs Linux (openat, mkdirat, renameat, fstatat). It imports only the
// standard library and golang.org/x/sys, and must not import any corematrix
// package.
package beneath
