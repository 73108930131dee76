package corereport

// The CO-RE test object is compiled once and committed, so tests need no
// clang. $BPF2GO_CC chooses the compiler (default clang), as for the probes;
// the compilation directory is fixed so the object does not depend on where
// the tree lives (make generate-check compares it byte for byte).
//go:generate sh -c "${DOLLAR}{BPF2GO_CC:-clang} -target bpf -g -O2 -Wall -fdebug-compilation-dir=. -I/usr/include/x86_64-linux-gnu -c testdata/core.c -o testdata/core.o"
//go:generate sh -c "${DOLLAR}{BPF2GO_CC:-clang} -target bpf -g -O2 -Wall -fdebug-compilation-dir=. -I/usr/include/x86_64-linux-gnu -c testdata/targets.c -o testdata/targets.o"
