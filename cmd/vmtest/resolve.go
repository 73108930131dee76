package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/corematrix/corematrix/vmtest"
)

// kernelFlags are the flags that choose where kernel images come from.
// Owned by the kernels work: it adds cache, offline, mirror and lock flags here.
type kernelFlags struct{}

// addKernelFlags registers the kernel-source flags on fs.
func addKernelFlags(fs *flag.FlagSet) *kernelFlags { return &kernelFlags{} }

// resolver returns the vmtest.Resolver those flags describe. For now it accepts
// only paths to a bzImage.
func (kf *kernelFlags) resolver() (vmtest.Resolver, error) {
	return func(ctx context.Context, name string) (vmtest.Kernel, error) {
		if _, err := os.Stat(name); err != nil {
			return vmtest.Kernel{}, fmt.Errorf("resolve kernel %q: not a file (kernel names need the kernels package): %w", name, err)
		}
		return vmtest.Kernel{Name: name, Source: "local", Path: name}, nil
	}, nil
}
