// Package kernel is the identity of one kernel of a run: the name the user
// asked for, its architecture and, once a source resolved it, its version,
// release, origin, verification state and files on disk.
//
// One Kernel value is made from the command line (Parse), filled in by a
// Resolver (package kernels implements one), and carried unchanged to QEMU,
// to the offline predictions and into every report. It is the only type
// that describes a kernel; the packages that need one take this one.
//
// It imports only the standard library and must not import any other
// corematrix package: every other package may import it.
package kernel
