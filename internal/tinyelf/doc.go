// Package tinyelf writes the smallest static executables Linux runs: an ELF
// header, one program header, and the machine code. The benchmark's guest
// programs and the ground-truth workloads' children are such files.
//
// It imports only the standard library and must not import any other
// corematrix package.
package tinyelf
