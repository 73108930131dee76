package corereport

// The CO-RE test object is compiled once and committed, so tests need no clang.
//go:generate clang -target bpf -g -O2 -Wall -I/usr/include/x86_64-linux-gnu -c testdata/core.c -o testdata/core.o
