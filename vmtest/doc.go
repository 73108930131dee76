// Package vmtest boots one kernel image in QEMU with an initramfs holding a
// static guest init and a payload, runs the payload, and brings back a verdict
// that can be trusted; it runs a matrix of kernels in parallel.
//
// It owns booting: it must not import kernels (kernels come in resolved, or
// through a kernel.Resolver that cmd/vmtest passes in), corereport (offline
// predictions come in through a Predictor), probes or harness.
package vmtest
