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

// KernelBTF gives a kernel's BTF by the name the user asked for, and the
// version it resolved to ("" when unknown).
type KernelBTF func(ctx context.Context, name string) (version string, spec *btf.Spec, err error)

// Build relocates spec (the object at object) against the BTF of each of
// names (loaded by load, in parallel: resolving may download and BTF
// extraction decompresses), then checks the arguments its programs read
// across the kernels that have BTF, and returns the matrix. A kernel whose
// BTF cannot be had is a column with its error.
func Build(ctx context.Context, object string, spec *ebpf.CollectionSpec, names []string, load KernelBTF, opts Options) (*Matrix, error) {
	cols := make([]Kernel, len(names))
	btfs := make([]*btf.Spec, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			cols[i] = Kernel{Name: name}
			version, kernel, err := load(ctx, name)
			cols[i].Version = version
			if err != nil {
				cols[i].Err = err.Error()
				return
			}
			btfs[i] = kernel
		})
	}
	wg.Wait()
	var withBTF []argread.Kernel
	for i, kernel := range btfs {
		if kernel == nil {
			continue
		}
		res, err := Relocate(spec, kernel, opts)
		if err != nil {
			cols[i].Err = err.Error()
			continue
		}
		cols[i].Result = res
		withBTF = append(withBTF, argread.Kernel{Name: names[i], BTF: kernel})
	}
	m := NewMatrix(object, cols)
	if err := m.CheckArgs(spec, withBTF); err != nil {
		return nil, err
	}
	return m, nil
}
