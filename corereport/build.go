package corereport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/argread"
	"github.com/corematrix/corematrix/kernel"
)

// ErrNotELF is returned (wrapped) by LoadObject for a file that is not an
// ELF object.
var ErrNotELF = errors.New("not an ELF object file (want a BPF object built with clang -target bpf)")

// LoadObject reads the BPF object at path; a file that is not ELF is named
// as such rather than as a parse error of its first bytes.
func LoadObject(path string) (*ebpf.CollectionSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil || !bytes.Equal(magic, []byte("\x7fELF")) {
		return nil, fmt.Errorf("%s: %w", path, ErrNotELF)
	}
	spec, err := ebpf.LoadCollectionSpec(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return spec, nil
}

// Build relocates spec (the object at object) against the BTF of each of
// ks, knowing each kernel's config and kallsyms where cache can read them
// (BTFCache.Facts), then checks the arguments its programs read across the kernels that
// have BTF, and returns the matrix. Kernels not yet resolved are resolved
// by resolver, and their BTF read through cache, all in parallel (resolving
// may download and BTF extraction decompresses). A kernel whose BTF cannot
// be had is a column with its error.
func Build(ctx context.Context, object string, spec *ebpf.CollectionSpec, ks []kernel.Kernel, resolver kernel.Resolver, cache *BTFCache, opts Options) (*Matrix, error) {
	cols := make([]Column, len(ks))
	btfs := make([]*btf.Spec, len(ks))
	facts := make([]*Facts, len(ks))
	var wg sync.WaitGroup
	for i, k := range ks {
		wg.Go(func() {
			cols[i].Kernel = k
			if !k.Resolved() {
				var err error
				if k, err = resolver.Resolve(ctx, k); err != nil {
					cols[i].Err = err.Error()
					return
				}
				cols[i].Kernel = k
			}
			s, err := cache.Load(k.Path, k.SHA256)
			if err != nil {
				cols[i].Err = err.Error()
				return
			}
			btfs[i] = s
			facts[i] = cache.Facts(k)
		})
	}
	wg.Wait()
	var withBTF []argread.KernelBTF
	for i, kbtf := range btfs {
		if kbtf == nil {
			continue
		}
		res, err := RelocateWith(spec, kbtf, facts[i], opts)
		if err != nil {
			cols[i].Err = err.Error()
			continue
		}
		cols[i].Result = res
		withBTF = append(withBTF, argread.KernelBTF{Kernel: cols[i].Kernel, BTF: kbtf})
	}
	m := NewMatrix(object, cols)
	if err := m.CheckArgs(spec, withBTF); err != nil {
		return nil, err
	}
	return m, nil
}
