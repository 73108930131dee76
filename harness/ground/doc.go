// Package ground produces workloads whose ground truth is known without eBPF:
// tiny static children exec'd under a chosen name and credentials, readers of
// /proc, a loopback TCP pair with its socket addresses, and the CO-RE branches
// a kernel must take, derived from its version and, independently, from its BTF.
//
// Nothing here needs kprobes, so its unit tests run on any Linux host. The
// compatibility suite (package harness) compares these truths with what the
// probes decode inside each kernel.
//
// It must not import probes, vmtest or kernels: ground truth is computed
// without the code it checks.
package ground
