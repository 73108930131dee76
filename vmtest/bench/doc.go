// Package bench times boots of a vmtest.Runner's kernels side by side (the
// `vmtest bench` command): a floor boot to an /init of a few instructions
// that powers off, a bare boot to busybox, a trivial payload, the trivial
// payload with the host's files shared, and the runner's payload. It is a
// benchmark people run, not a test.
//
// It boots through vmtest only: it must not import kernels (kernels come in
// through the runner's resolver), corereport, probes or harness.
package bench
