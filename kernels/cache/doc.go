// Package cache is a content-addressed file cache shared safely by parallel
// processes: blobs are named by their SHA-256, written to a temporary file and
// renamed into place, and small JSON records map names to blobs. File locks
// serialise fetches of the same thing across goroutines and processes.
//
// It owns files on disk and their locks, not where they come from: it must not
// import kernels or its sources (debian, oci).
package cache
