package corpus

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels/debian"
)

// bpfObject is a real BPF ELF object (the project's tracer).
func bpfObject(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "probes", "tracer_x86_bpfel.o"))
	require.NoError(t, err)
	return b
}

// skeleton is a stand-in for a libbpf-tools executable: an x86-64 ELF
// header, code, the BPF objects as a skeleton embeds them, and a trailer
// holding a false start (an ELF magic that is no BPF object).
func skeleton(objs ...[]byte) []byte {
	hdr := make([]byte, 64)
	copy(hdr, "\x7fELF\x02\x01\x01")
	hdr[18] = 62 // EM_X86_64
	var b bytes.Buffer
	b.Write(hdr)
	b.WriteString(strings.Repeat("\x90", 301))
	for _, o := range objs {
		b.Write(o)
		b.WriteString("\x00\x7fELF\x00 padding ")
	}
	b.WriteString("\x7fELF\x02\x01 trailer")
	return b.Bytes()
}

func TestObjectsFromSkeleton(t *testing.T) {
	obj := bpfObject(t)
	second := append([]byte(nil), obj...)
	second[len(second)-1] ^= 0xff // another object (its last section header differs)
	got, err := Objects("usr/sbin/tool", skeleton(obj, second))
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "tool.bpf.o", got[0].Name)
	assert.Equal(t, "tool-2.bpf.o", got[1].Name)
	assert.Equal(t, obj, got[0].Data, "the object ends where its section header table ends")
	assert.Equal(t, second, got[1].Data)
}

func TestObjectsPlainFile(t *testing.T) {
	obj := bpfObject(t)
	got, err := Objects("usr/lib/bpf/xdp_filter.o", obj)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "xdp_filter.o", got[0].Name)
	assert.Equal(t, obj, got[0].Data)
}

func TestObjectsBounded(t *testing.T) {
	obj := bpfObject(t)
	old := MaxObject
	MaxObject = int64(len(obj) - 1)
	defer func() { MaxObject = old }()
	got, err := Objects("usr/sbin/tool", skeleton(obj))
	require.NoError(t, err)
	assert.Empty(t, got, "an object over MaxObject is not taken")

	MaxObject = old
	truncated := skeleton(obj)[:64+301+len(obj)-1]
	got, err = Objects("usr/sbin/tool", truncated)
	require.NoError(t, err)
	assert.Empty(t, got, "an object whose section headers run past the file is not taken")
}

// deb builds a .deb (ar, uncompressed data.tar) holding files.
func deb(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var data bytes.Buffer
	tw := tar.NewWriter(&data)
	for name, b := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "./" + name, Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	var out bytes.Buffer
	out.WriteString("!<arch>\n")
	member := func(name string, b []byte) {
		fmt.Fprintf(&out, "%-16s%-12s%-6s%-6s%-8s%-10d`\n", name, "0", "0", "0", "100644", len(b))
		out.Write(b)
		if len(b)%2 == 1 {
			out.WriteByte('\n')
		}
	}
	member("debian-binary", []byte("2.0\n"))
	member("data.tar", data.Bytes())
	return out.Bytes()
}

func TestPackageObjects(t *testing.T) {
	obj := bpfObject(t)
	d := deb(t, map[string][]byte{
		"usr/sbin/tool":             skeleton(obj),
		"usr/sbin/other":            skeleton(obj), // the same object again: taken once
		"usr/lib/bpf/prog.o":        obj[: len(obj)-1 : len(obj)-1],
		"usr/share/doc/tool/README": []byte("\x7fELF but text, long enough to be scanned for objects........"),
	})
	got, err := PackageObjects(bytes.NewReader(d))
	require.NoError(t, err)
	require.Len(t, got, 1, "the truncated .o is no object, the second copy is a duplicate")
	assert.Contains(t, []string{"tool.bpf.o", "other.bpf.o"}, got[0].Name)
}

// fakeArchive serves one package from memory.
type fakeArchive struct {
	pkg       debian.Package
	body      []byte
	downloads int
}

func (f *fakeArchive) Packages(_ context.Context, suite, arch string, keep func(string) bool) ([]debian.Package, error) {
	if !keep(f.pkg.Name) {
		return nil, nil
	}
	return []debian.Package{f.pkg}, nil
}

func (f *fakeArchive) Download(_ context.Context, p debian.Package) (*os.File, error) {
	f.downloads++
	tmp, err := os.CreateTemp("", "deb-*")
	if err != nil {
		return nil, err
	}
	if _, err := tmp.Write(f.body); err != nil {
		return nil, err
	}
	_, err = tmp.Seek(0, 0)
	return tmp, err
}

func TestFetchChecksPinAndCaches(t *testing.T) {
	body := deb(t, map[string][]byte{"usr/sbin/tool": skeleton(bpfObject(t))})
	sum := sha256.Sum256(body)
	pkg := debian.Package{Name: "libbpf-tools", Version: "1.0-1", SHA256: hex.EncodeToString(sum[:]), Filename: "pool/x.deb", Size: int64(len(body))}
	a := &fakeArchive{pkg: pkg, body: body}
	pin := Pin{Suite: "bookworm", Arch: "amd64", Name: pkg.Name, Version: pkg.Version, SHA256: pkg.SHA256}
	dir := t.TempDir()

	got, err := Fetch(context.Background(), a, []Pin{pin}, dir)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, []string{"tool.bpf.o"}, got[0].Objects)
	assert.FileExists(t, filepath.Join(dir, "libbpf-tools_1.0-1_amd64", "tool.bpf.o"))

	got, err = Fetch(context.Background(), a, []Pin{pin}, dir)
	require.NoError(t, err)
	assert.True(t, got[0].Cached)
	assert.Equal(t, 1, a.downloads, "a fetched pin is not downloaded again")

	wrong := pin
	wrong.SHA256 = strings.Repeat("0", 64)
	_, err = Fetch(context.Background(), a, []Pin{wrong}, t.TempDir())
	assert.ErrorContains(t, err, "the pin")
	old := pin
	old.Version = "0.9-1"
	_, err = Fetch(context.Background(), a, []Pin{old}, t.TempDir())
	assert.ErrorContains(t, err, "update pins.txt")
}

func TestCommittedPins(t *testing.T) {
	pins, err := Pins()
	require.NoError(t, err)
	require.NotEmpty(t, pins)
	seen := map[string]bool{}
	for _, p := range pins {
		assert.False(t, seen[p.Dir()], "pinned twice: %s", p)
		seen[p.Dir()] = true
	}
	_, err = ParsePins(strings.NewReader("bookworm amd64 x 1.0 abc\n"))
	assert.ErrorContains(t, err, "SHA-256")
}
