package corereport

import (
	"bytes"
	_ "embed"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/kernels"
	"github.com/corematrix/corematrix/kernels/kerneltest"
)

// testObject is the CO-RE test object built from testdata/core.c.
const testObject = "testdata/core.o"

// image61 returns the path of the newest Debian 6.1 cloud kernel, fetched
// into the shared cache on first use; a test that needs it fails without it.
func image61(tb testing.TB) string {
	tb.Helper()
	return kerneltest.Image(tb, "6.1").Path
}

// testKernel is a source of kernel BTF for the tests.
type testKernel struct {
	name string
	load func(t testing.TB) *btf.Spec
}

var (
	spec61Once sync.Once
	spec61     *btf.Spec
	spec61Err  error
)

// kernel61 is the BTF of image61, extracted from the bzImage with kernels.LoadBTF.
func kernel61(t testing.TB) *btf.Spec {
	t.Helper()
	img61 := image61(t)
	spec61Once.Do(func() { spec61, spec61Err = kernels.LoadBTF(img61) })
	require.NoError(t, spec61Err, "kernels.LoadBTF(%s)", img61)
	return spec61
}

// kernelHost is the running kernel's BTF (/sys/kernel/btf/vmlinux).
func kernelHost(t testing.TB) *btf.Spec {
	t.Helper()
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skipf("host kernel has no BTF: %v", err)
	}
	spec, err := btf.LoadKernelSpec()
	require.NoError(t, err, "load host BTF")
	return spec
}

// kernelPre514 is BTF shaped like a kernel older than 5.8: task_struct has
// `long state` at offset 16 and no __state, and there is no bpf_ringbuf.
// It is built in memory, since no such image is at hand offline.
func kernelPre514(t testing.TB) *btf.Spec {
	t.Helper()
	long := &btf.Int{Name: "long int", Size: 8, Encoding: btf.Signed}
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	ts := &btf.Struct{Name: "task_struct", Size: 64, Members: []btf.Member{
		{Name: "state", Type: long, Offset: 16 * 8},
		{Name: "pid", Type: i32, Offset: 40 * 8},
	}}
	b, err := btf.NewBuilder([]btf.Type{ts}, nil)
	require.NoError(t, err)
	spec, err := b.Spec()
	require.NoError(t, err)
	return spec
}

// coreObject is testObject embedded, so that the test binary runs anywhere,
// including inside a guest: go test -exec 'vmtest exec --kernel 5.10 --'.
//
//go:embed testdata/core.o
var coreObject []byte

// kernelModern is BTF shaped like a kernel since 5.14: task_struct has
// `unsigned int __state` at offset 24 and no state, and bpf_ringbuf exists.
func kernelModern(t testing.TB) *btf.Spec {
	t.Helper()
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	ts := &btf.Struct{Name: "task_struct", Size: 64, Members: []btf.Member{
		{Name: "__state", Type: u32, Offset: 24 * 8},
		{Name: "pid", Type: i32, Offset: 48 * 8},
	}}
	rb := &btf.Struct{Name: "bpf_ringbuf", Size: 8, Members: []btf.Member{{Name: "mask", Type: u32}}}
	b, err := btf.NewBuilder([]btf.Type{ts, rb}, nil)
	require.NoError(t, err)
	spec, err := b.Spec()
	require.NoError(t, err)
	return spec
}

func loadTestObject(t testing.TB) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(coreObject))
	require.NoError(t, err, "load %s", testObject)
	return spec
}
