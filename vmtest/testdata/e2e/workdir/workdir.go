// Package workdir is the end-to-end test package of `vmtest exec` under
// `go test -exec`: its tests need their package directory, write files for
// the host, stream output and time out.
package workdir

// Double is covered by TestFiles, so -coverprofile has a statement to count.
func Double(x int) int { return 2 * x }
