// Package harness is the corematrix compatibility suite. It is a Go test
// package compiled once into a static harness.test that vmtest runs inside
// every kernel of a matrix:
//
//	CGO_ENABLED=0 go test -c -o bin/harness.test ./harness
//	bin/vmtest run --kernels 5.10,6.1,6.12 -- bin/harness.test -test.v
//
// Each test drives a workload whose ground truth is known without eBPF
// (package ground: tiny static children, /proc, a loopback TCP pair), loads
// the probes, and checks every decoded field against that truth, in ring
// buffer mode (5.8+) and in perf buffer mode.
//
// On a host that cannot trace (not root, or no kprobe events) every test
// skips with one reason. Inside a vmtest guest (CM_VMTEST=1) nothing skips: a
// capability the kernel's version promises but does not deliver is a failure.
// The suite writes report.Facts (CO-RE branches taken, per-program load
// statistics) as JSON to $CM_FACTS.
//
// It owns the suite's tests and their ground truth; it imports probes and
// harness/ground (and report for the Facts model) and must not import
// vmtest's runner, kernels or QEMU code: it runs inside whatever kernel it
// finds itself in.
package harness
