// Package kerneltest gives tests a real kernel image: it resolves a name such
// as "6.1" with the kernels package (the Debian archive this machine's apt
// uses), through the shared cache, once per test binary and name.
//
// A test that asks for a kernel needs it: resolution failures are test
// failures, not skips, so a machine that cannot reach the archive shows red.
//
// It is for tests only and must not be imported by non-test code.
package kerneltest
