package corereport

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels"
	"github.com/corematrix/corematrix/kernels/cache"
)

// kernelBTFCache is a BTFCache in dir wired to the kernels package, as
// cmd/vmtest wires it.
func kernelBTFCache(dir string) *BTFCache {
	return &BTFCache{Dir: dir, IsImage: kernels.IsImage, Extract: kernels.RawBTF, Hash: cache.HashFile}
}

func TestBTFCache(t *testing.T) {
	img61 := image61(t)
	extracted := 0
	dir := t.TempDir()
	// Each step a new BTFCache on the same Dir, as each vmtest run makes
	// one: what is checked is the disk cache.
	newCache := func() *BTFCache {
		c := kernelBTFCache(dir)
		c.Extract = func(path string) ([]byte, error) {
			extracted++
			return kernels.RawBTF(path)
		}
		return c
	}
	sum, err := cache.HashFile(img61)
	require.NoError(t, err)
	blob := filepath.Join(dir, sum+".btf")

	steps := []struct {
		name          string
		before        func()
		sum           string
		wantExtracted int
	}{
		{"first load extracts", func() {}, "", 1},
		{"second load reads the blob", func() {}, sum, 1},
		{"corrupt blob is replaced", func() { os.WriteFile(blob, []byte("garbage"), 0o644) }, sum, 2},
		{"removed blob is extracted again", func() { os.Remove(blob) }, "not-a-sum", 3},
	}
	for _, s := range steps {
		s.before()
		spec, err := newCache().Load(img61, s.sum)
		require.NoError(t, err, "%s: Load", s.name)
		_, err = spec.AnyTypeByName("task_struct")
		assert.NoError(t, err, "%s: task_struct", s.name)
		assert.Equal(t, s.wantExtracted, extracted, "%s: extracted %d times, want %d", s.name, extracted, s.wantExtracted)
		_, err = os.Stat(blob)
		assert.NoError(t, err, "%s: blob not cached", s.name)
	}

	// One BTFCache parses an image's BTF once: later loads (the next
	// object on the same kernel) get the same spec, even with the blob gone.
	c := newCache()
	first, err := c.Load(img61, sum)
	require.NoError(t, err)
	require.NoError(t, os.Remove(blob))
	again, err := c.Load(img61, "")
	require.NoError(t, err)
	assert.Same(t, first, again, "the second load parsed the BTF again")
	assert.Equal(t, 3, extracted, "the second load extracted the BTF again")
}

func TestBTFCacheNonBzImage(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skipf("host kernel has no BTF: %v", err)
	}
	c := kernelBTFCache(t.TempDir())
	c.Extract = func(string) ([]byte, error) {
		assert.Fail(t, "Extract called for raw BTF")
		return nil, errors.New("unexpected")
	}
	spec, err := c.Load("/sys/kernel/btf/vmlinux", "")
	require.NoError(t, err, "Load(raw BTF)")
	_, err = spec.AnyTypeByName("task_struct")
	assert.NoError(t, err, "task_struct")

	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte("not a kernel"), 0o644)
	_, err = c.Load(junk, "")
	assert.Error(t, err, "Load(junk) succeeded")
}

func BenchmarkRelocate(b *testing.B) {
	for _, k := range []testKernel{{"6.1", kernel61}, {"host", kernelHost}} {
		b.Run(k.name, func(b *testing.B) {
			spec := loadTestObject(b)
			kernel := k.load(b)
			// Warm the kernel spec's lazily decoded types as a real run would
			// after its first relocation.
			_, err := Relocate(spec, kernel, Options{})
			require.NoError(b, err)
			b.ResetTimer()
			for b.Loop() {
				_, err := Relocate(spec, kernel, Options{})
				require.NoError(b, err)
			}
		})
	}
}

// BenchmarkCachedKernel is the whole per-kernel cost of a core-report run
// with a cached image: read the cached BTF blob, load the probes object and
// relocate it.
func BenchmarkCachedKernel(b *testing.B) {
	object := "../probes/tracer_x86_bpfel.o"
	if _, err := os.Stat(object); err != nil {
		object = testObject
	}
	img61 := image61(b)
	c := kernelBTFCache(b.TempDir())
	sum, err := cache.HashFile(img61)
	require.NoError(b, err)
	_, err = c.Load(img61, sum)
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		kernel, err := c.Load(img61, sum)
		require.NoError(b, err)
		_, err = Predict(object, kernel, Options{})
		require.NoError(b, err)
	}
}
