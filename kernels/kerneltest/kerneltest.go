package kerneltest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels"
)

// ResolveTimeout bounds the first download of an image.
const ResolveTimeout = 10 * time.Minute

var (
	mu     sync.Mutex
	images = map[string]kernel.Kernel{}
)

// Image resolves name to a verified image on disk, downloading it into the
// default cache on first use. It fails tb when the kernel cannot be had.
func Image(tb testing.TB, name string) kernel.Kernel {
	tb.Helper()
	img, err := Resolve(name)
	if err != nil {
		tb.Fatalf("kernel %s for this test: %v", name, err)
	}
	return img
}

// Resolve is Image without a testing.TB, for TestMain and setup code.
func Resolve(name string) (kernel.Kernel, error) {
	mu.Lock()
	defer mu.Unlock()
	if img, ok := images[name]; ok {
		return img, nil
	}
	r, err := kernels.New(kernels.Options{})
	if err != nil {
		return kernel.Kernel{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), ResolveTimeout)
	defer cancel()
	img, err := r.ResolveName(ctx, name)
	if err != nil {
		return kernel.Kernel{}, err
	}
	images[name] = img
	return img, nil
}

var (
	btfMu sync.Mutex
	btfs  = map[string]*btf.Spec{}
)

// BTF returns the BTF of the kernel name resolves to (see Image), extracted
// from the image once per test binary. It fails tb when the kernel or its
// BTF cannot be had. Callers must not modify the returned spec.
func BTF(tb testing.TB, name string) *btf.Spec {
	tb.Helper()
	img := Image(tb, name)
	btfMu.Lock()
	defer btfMu.Unlock()
	if spec, ok := btfs[img.Path]; ok {
		return spec
	}
	spec, err := kernels.LoadBTF(img.Path)
	if err != nil {
		tb.Fatalf("BTF of kernel %s (%s): %v", name, img.Path, err)
	}
	btfs[img.Path] = spec
	return spec
}
