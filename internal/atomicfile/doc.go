// Package atomicfile writes files so that a reader sees either the old
// content or the new, never a part of it: the data goes to a temporary file
// on the same file system, which is synced and then renamed into place.
//
// It is the one way corematrix writes a file that others may read while it is
// written (cached blobs and records, kernels.lock, cached BTF, report JSON).
// It imports only the standard library and must not import any corematrix
// package.
package atomicfile
