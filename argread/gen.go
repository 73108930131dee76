package argread

// The drift test objects are compiled once and committed, so tests need no
// clang. $BPF2GO_CC chooses the compiler (default clang), as for the probes;
// the compilation directory and file prefix are fixed so the objects do not
// depend on where the tree lives (make generate-check compares them byte for
// byte). libbpf's headers are the ones vendored in probes/bpf/include, and
// helpers_gen.go (the argument count of every helper) is read from them.
//go:generate sh -c "${DOLLAR}{BPF2GO_CC:-clang} -target bpfel -D__TARGET_ARCH_x86 -O2 -g -Wall -Werror -fdebug-compilation-dir=. -ffile-prefix-map=$PWD=argread -I../probes/bpf/include -c testdata/args.c -o testdata/args.o && ${DOLLAR}{BPF2GO_STRIP:-llvm-strip} -g testdata/args.o"
//go:generate sh -c "${DOLLAR}{BPF2GO_CC:-clang} -target bpfel -D__TARGET_ARCH_arm64 -O2 -g -Wall -Werror -fdebug-compilation-dir=. -ffile-prefix-map=$PWD=argread -I../probes/bpf/include -c testdata/args.c -o testdata/args_arm64.o && ${DOLLAR}{BPF2GO_STRIP:-llvm-strip} -g testdata/args_arm64.o"
//go:generate sh -c "${DOLLAR}{BPF2GO_CC:-clang} -target bpfel -D__TARGET_ARCH_x86 -O2 -g -Wall -Werror -fdebug-compilation-dir=. -ffile-prefix-map=$PWD=argread -I../probes/bpf/include -c testdata/flows.c -o testdata/flows.o && ${DOLLAR}{BPF2GO_STRIP:-llvm-strip} -g testdata/flows.o"
//go:generate sh gen_helpers.sh
