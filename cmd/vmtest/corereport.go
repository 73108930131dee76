package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/vmtest/corereport"
)

// defaultCoreObject is the probes object core-report reads unless told otherwise.
const defaultCoreObject = "probes/tracer_x86_bpfel.o"

// hostKernel is the kernel name that means the running kernel's BTF.
const hostKernel = "host"

func init() {
	register("core-report", "print the offline CO-RE relocation matrix of a BPF object (no boot)", runCoreReport)
}

// runCoreReport resolves every CO-RE relocation of a BPF object against the
// BTF of each kernel (extracted from its image, cached by image SHA-256) and
// prints relocation x kernel and the predicted load outcome per program.
// Exit code 1 when any program is predicted to fail, 3 when only kernels were
// unavailable.
func runCoreReport(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("core-report", flag.ContinueOnError)
	kernelList := fs.String("kernels", "", "comma-separated kernels: versions (5.10, 6.1), image paths, or \"host\" for the running kernel's BTF")
	format := fs.String("format", "table", "output format: table, markdown or json")
	cacheDir, cacheErr := corereport.DefaultBTFCacheDir()
	btfCache := fs.String("btf-cache", cacheDir, "directory caching BTF extracted from kernel images (empty: no cache)")
	kf := addKernelFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: vmtest core-report --kernels 5.10,6.1,6.12 [--format table|markdown|json] [OBJECT]\n\n")
		fmt.Fprintf(fs.Output(), "OBJECT defaults to %s.\n\nflags:\n", defaultCoreObject)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	names := splitKernels(*kernelList)
	if len(names) == 0 || fs.NArg() > 1 {
		fs.Usage()
		return exitUsage
	}
	f := corereport.Format(*format)
	if f != corereport.FormatTable && f != corereport.FormatMarkdown && f != corereport.FormatJSON {
		fmt.Fprintf(os.Stderr, "vmtest core-report: --format %q: %v\n", *format, corereport.ErrUnknownFormat)
		return exitUsage
	}
	if *btfCache == cacheDir && cacheErr != nil {
		fmt.Fprintf(os.Stderr, "vmtest core-report: %v; not caching BTF\n", cacheErr)
	}
	object := defaultCoreObject
	if fs.NArg() == 1 {
		object = fs.Arg(0)
	}
	spec, err := ebpf.LoadCollectionSpec(object)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmtest core-report: load %s: %v\n", object, err)
		return exitUsage
	}
	resolve, err := kf.resolver()
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmtest core-report: %v\n", err)
		return exitUsage
	}

	// Resolving may download and BTF extraction decompresses: do kernels in
	// parallel, then relocate (microseconds) in order.
	cache := &corereport.BTFCache{Dir: *btfCache}
	cols := make([]corereport.Kernel, len(names))
	btfs := make([]*btf.Spec, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cols[i] = corereport.Kernel{Name: name}
			path, sum := "/sys/kernel/btf/vmlinux", ""
			if name != hostKernel {
				k, err := resolve(ctx, name)
				if err != nil {
					cols[i].Err = err.Error()
					return
				}
				cols[i].Version = k.Version
				path, sum = k.Path, k.SHA256
			}
			kernel, err := cache.Load(path, sum)
			if err != nil {
				cols[i].Err = err.Error()
				return
			}
			btfs[i] = kernel
		}()
	}
	wg.Wait()
	for i, kernel := range btfs {
		if kernel == nil {
			continue
		}
		res, err := corereport.Relocate(spec, kernel)
		if err != nil {
			cols[i].Err = err.Error()
			continue
		}
		cols[i].Result = res
	}

	m := corereport.NewMatrix(object, cols)
	if err := m.Write(os.Stdout, f); err != nil {
		fmt.Fprintf(os.Stderr, "vmtest core-report: %v\n", err)
		return exitInfra
	}
	switch {
	case m.Failures() > 0:
		return exitFail
	case m.Unavailable() > 0:
		return exitInfra
	}
	return exitOK
}

// splitKernels splits a comma-separated kernel list, dropping empty entries.
func splitKernels(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
