// Package pid1 makes the vmtest binary the guest init before the host side
// of the binary initializes.
//
// Go initializes a program's packages one at a time, always the first, by
// import path, of those whose imports are all initialized (The Go
// Programming Language Specification, "Package initialization"). This
// package imports only the guest init, so its init function runs as soon as
// the guest init's dependencies are ready, and never returns as PID 1: the
// host's packages (registries, archives, signature checks, reports) are
// never initialized in the guest. Under TCG every instruction run for the
// first time is translated, and their initialization cost about a tenth of
// a second per boot.
//
// Only cmd/vmtest imports it. It must import nothing but the guest init and
// the standard library.
package pid1
