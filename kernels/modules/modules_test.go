package modules

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"

	"github.com/corematrix/corematrix/kernels/modules/modulestest"
)

// fakeModule returns a minimal module whose .modinfo holds info.
var fakeModule = modulestest.Fake

func compress(t *testing.T, c Compression, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	var err error
	switch c {
	case None:
		return data
	case XZ:
		w, err = xz.NewWriter(&b)
	case Zstd:
		w, err = zstd.NewWriter(&b)
	case Gzip:
		w = gzip.NewWriter(&b)
	}
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

// build runs a Builder over files (path -> content) and unpacks the result.
func build(t *testing.T, files [][2]string) (string, Summary, error) {
	t.Helper()
	var arch bytes.Buffer
	b := NewBuilder(&arch)
	for _, f := range files {
		if !Wants(f[0]) {
			continue
		}
		if err := b.Add(f[0], int64(len(f[1])), strings.NewReader(f[1])); err != nil {
			return "", Summary{}, err
		}
	}
	sum, err := b.Finish()
	if err != nil {
		return "", sum, err
	}
	dir := t.TempDir()
	require.NoError(t, Extract(&arch, dir))
	return filepath.Join(dir, sum.Release), sum, nil
}

func TestBuilderDecompressesAndWritesModulesDep(t *testing.T) {
	for _, c := range []struct {
		comp Compression
		ext  string
	}{{None, ".ko"}, {XZ, ".ko.xz"}, {Zstd, ".ko.zst"}, {Gzip, ".ko.gz"}} {
		t.Run(string(c.comp), func(t *testing.T) {
			virtio := fakeModule("name=virtio")
			ring := fakeModule("name=virtio_ring", "depends=virtio")
			fuse := fakeModule("name=fuse", "alias=fs-fuse")
			vfs := fakeModule("name=virtiofs", "depends=virtio-ring,fuse", "alias=fs-virtiofs")
			files := [][2]string{
				{"./usr/lib/modules/9.9.9-cloud/kernel/drivers/virtio/virtio" + c.ext, string(compress(t, c.comp, virtio))},
				{"usr/lib/modules/9.9.9-cloud/kernel/drivers/virtio/virtio_ring" + c.ext, string(compress(t, c.comp, ring))},
				{"usr/lib/modules/9.9.9-cloud/kernel/fs/fuse/fuse" + c.ext, string(compress(t, c.comp, fuse))},
				{"usr/lib/modules/9.9.9-cloud/kernel/fs/fuse/virtiofs" + c.ext, string(compress(t, c.comp, vfs))},
				{"usr/lib/modules/9.9.9-cloud/modules.builtin", "kernel/fs/ext4/ext4.ko\n"},
				{"usr/lib/modules/9.9.9-cloud/vmlinuz", "not a module"},
				{"usr/share/doc/x.ko", "not in a modules tree"},
			}
			dir, sum, err := build(t, files)
			require.NoError(t, err)
			require.Equal(t, Summary{Release: "9.9.9-cloud", Modules: 4, Bytes: int64(len(virtio) + len(ring) + len(fuse) + len(vfs)), Compression: c.comp}, sum)
			got, err := os.ReadFile(filepath.Join(dir, "kernel/fs/fuse/virtiofs.ko"))
			require.NoError(t, err)
			require.Equal(t, vfs, got, "module decompressed")
			dep, err := os.ReadFile(filepath.Join(dir, "modules.dep"))
			require.NoError(t, err)
			require.Equal(t, "kernel/drivers/virtio/virtio.ko:\n"+
				"kernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko\n"+
				"kernel/fs/fuse/fuse.ko:\n"+
				"kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n", string(dep))
			alias, err := os.ReadFile(filepath.Join(dir, "modules.alias"))
			require.NoError(t, err)
			require.Contains(t, string(alias), "alias fs-virtiofs virtiofs\n")
			_, err = os.Stat(filepath.Join(dir, "modules.builtin"))
			require.NoError(t, err)
			_, err = os.Stat(filepath.Join(dir, "vmlinuz"))
			require.ErrorIs(t, err, os.ErrNotExist, "only modules and their indices are kept")

			mods, err := ReadDep(dep)
			require.NoError(t, err)
			order, err := LoadOrder(mods, "virtiofs")
			require.NoError(t, err)
			var names []string
			for _, m := range order {
				names = append(names, m.Name)
			}
			require.Equal(t, []string{"fuse", "virtio", "virtio_ring", "virtiofs"}, names, "each module after what it needs")
		})
	}
}

func TestBuilderRefuses(t *testing.T) {
	old := MaxModule
	t.Cleanup(func() { MaxModule = old })
	MaxModule = 4096
	big := fakeModule("name=big", "x="+strings.Repeat("a", 8192))
	for _, c := range []struct {
		name  string
		files [][2]string
		want  string
	}{
		{"two releases", [][2]string{
			{"lib/modules/1.0/kernel/a.ko", string(fakeModule("name=a"))},
			{"lib/modules/2.0/kernel/b.ko", string(fakeModule("name=b"))}}, "two releases"},
		{"missing dependency", [][2]string{
			{"lib/modules/1.0/kernel/a.ko", string(fakeModule("name=a", "depends=nothere"))}}, "depends on nothere, which is not in the tree"},
		{"cycle", [][2]string{
			{"lib/modules/1.0/kernel/a.ko", string(fakeModule("name=a", "depends=b"))},
			{"lib/modules/1.0/kernel/b.ko", string(fakeModule("name=b", "depends=a"))}}, "cycle"},
		{"not ELF", [][2]string{{"lib/modules/1.0/kernel/a.ko", "hello"}}, "not an ELF module"},
		{"bad name", [][2]string{{"lib/modules/1.0/kernel/a.ko", string(fakeModule("name=../x"))}}, "not a plain name"},
		{"decompression bomb", [][2]string{{"lib/modules/1.0/kernel/big.ko.gz", string(compress(t, Gzip, big))}}, "exceeds the size limit"},
		{"none", [][2]string{{"boot/vmlinuz-1.0", "x"}}, ErrNoModules.Error()},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := build(t, c.files)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
		})
	}
}

func TestExtractRefusesEscapes(t *testing.T) {
	for _, name := range []string{"../evil.ko", "/abs/evil.ko", "rel/../../evil.ko", "toplevel"} {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg}))
		tw.Write([]byte("x"))
		tw.Close()
		err := Extract(&b, t.TempDir())
		require.Error(t, err, name)
		require.Contains(t, err.Error(), "unexpected entry", name)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "1.0/link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink}))
	tw.Close()
	require.Error(t, Extract(&b, t.TempDir()), "a symlink")
}

func TestTreeIsAtomicAndReused(t *testing.T) {
	var arch bytes.Buffer
	b := NewBuilder(&arch)
	m := fakeModule("name=a")
	require.NoError(t, b.Add("lib/modules/1.0/kernel/a.ko", int64(len(m)), bytes.NewReader(m)))
	_, err := b.Finish()
	require.NoError(t, err)
	blob := filepath.Join(t.TempDir(), "blob")
	require.NoError(t, os.WriteFile(blob, arch.Bytes(), 0o644))
	root := t.TempDir()
	dir, err := Tree(blob, root, "abc")
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "abc"), dir)
	require.FileExists(t, filepath.Join(dir, "1.0", "modules.dep"))
	require.NoError(t, os.Remove(blob))
	again, err := Tree(blob, root, "abc")
	require.NoError(t, err, "an existing tree is used without its archive")
	require.Equal(t, dir, again)
	_, err = Tree(blob, root, "def")
	require.True(t, errors.Is(err, os.ErrNotExist), "got %v", err)
	ents, _ := os.ReadDir(root)
	require.Len(t, ents, 1, "a failed unpack leaves nothing behind")
}
