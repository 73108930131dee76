//go:build arm64

package probes

// ObjectName is the file name of the compiled object bpf2go commits next to
// this package for this build's architecture (probes/tracer_arm64_bpfel.o;
// tracer_x86_bpfel.o in other builds): the bytes Object returns.
const ObjectName = "tracer_arm64_bpfel.o"
