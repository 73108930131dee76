// Package fakekernel builds small, structurally real x86 bzImages for tests:
// a valid setup header with a kernel version string and an LZ4 legacy frame
// payload holding an ELF whose .BTF section describes a task_struct. They do
// not boot; they exercise every parser between a download and a BTF spec.
//
// It is for tests only.
package fakekernel
