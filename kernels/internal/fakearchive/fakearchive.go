package fakearchive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/klauspost/compress/zstd"
)

// Kernel is one kernel package of the archive.
type Kernel struct {
	Suite   string
	Package string // e.g. linux-image-6.1.0-50-cloud-amd64
	Version string // e.g. 6.1.176-1
	Release string // e.g. 6.1.0-50-cloud-amd64
	Image   []byte
	Config  []byte
	// Modules puts the image in usr/lib/modules/<release>/vmlinuz (the
	// 7.x layout) instead of boot/vmlinuz-<release>.
	Modules bool
	// Arch is the package's architecture; empty means amd64.
	Arch string
	// Files, when set, are the package's files instead of a kernel's
	// (e.g. "./bin/busybox" for a busybox-static package).
	Files map[string][]byte
}

func (k Kernel) arch() string {
	if k.Arch == "" {
		return "amd64"
	}
	return k.Arch
}

// Archive is a running fake archive.
type Archive struct {
	Server *httptest.Server
	// Keyring is a keyring file holding the signing key.
	Keyring string
	Signer  *openpgp.Entity

	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
}

// NewKey generates a signing key (Ed25519, fast).
func NewKey(t testing.TB) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity("fake archive", "test", "archive@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// WriteKeyring writes the public key of e to a keyring file in dir.
func WriteKeyring(t testing.TB, dir string, e *openpgp.Entity) string {
	t.Helper()
	var buf bytes.Buffer
	if err := e.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "keyring.gpg")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// New builds and serves an archive of kernels, signed by signer (a new key
// when nil). The server is closed when the test ends.
func New(t testing.TB, signer *openpgp.Entity, kernels []Kernel) *Archive {
	t.Helper()
	if signer == nil {
		signer = NewKey(t)
	}
	a := &Archive{Signer: signer, files: map[string][]byte{}, hits: map[string]int{}}
	a.Keyring = WriteKeyring(t, t.TempDir(), signer)
	// stanzas[suite][arch] are the Packages stanzas of one index.
	stanzas := map[string]map[string][]string{}
	for _, k := range kernels {
		deb, err := Deb(k)
		if err != nil {
			t.Fatal(err)
		}
		fn := fmt.Sprintf("pool/main/l/linux/%s_%s_%s.deb", k.Package, k.Version, k.arch())
		a.files[fn] = deb
		sum := sha256.Sum256(deb)
		if stanzas[k.Suite] == nil {
			stanzas[k.Suite] = map[string][]string{"amd64": nil}
		}
		stanzas[k.Suite][k.arch()] = append(stanzas[k.Suite][k.arch()], fmt.Sprintf(
			"Package: %s\nSource: linux\nVersion: %s\nArchitecture: %s\nDescription: Linux for tests\n long description line\nFilename: %s\nSize: %d\nSHA256: %s\n",
			k.Package, k.Version, k.arch(), fn, len(deb), hex.EncodeToString(sum[:])))
	}
	suites := make([]string, 0, len(stanzas))
	for s := range stanzas {
		suites = append(suites, s)
	}
	sort.Strings(suites)
	for _, s := range suites {
		arches := make([]string, 0, len(stanzas[s]))
		for a := range stanzas[s] {
			arches = append(arches, a)
		}
		sort.Strings(arches)
		var hashes []string
		for _, arch := range arches {
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write([]byte(strings.Join(stanzas[s][arch], "\n")))
			zw.Close()
			p := "main/binary-" + arch + "/Packages.gz"
			a.files["dists/"+s+"/"+p] = gz.Bytes()
			sum := sha256.Sum256(gz.Bytes())
			hashes = append(hashes, fmt.Sprintf(" %s %d %s\n", hex.EncodeToString(sum[:]), gz.Len(), p))
		}
		rel := fmt.Sprintf("Origin: Debian\nSuite: %s\nCodename: %s\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nArchitectures: %s\nComponents: main\nSHA256:\n%s",
			s, s, strings.Join(arches, " "), strings.Join(hashes, ""))
		a.files["dists/"+s+"/InRelease"] = Sign(t, signer, rel)
	}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Server.Close)
	return a
}

// Sign clear-signs text with e.
func Sign(t testing.TB, e *openpgp.Entity, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, e.PrivateKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(text))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (a *Archive) serve(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	a.mu.Lock()
	data, ok := a.files[p]
	a.hits[p]++
	a.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	w.Write(data)
}

// URL returns the archive's base URL.
func (a *Archive) URL() string { return a.Server.URL }

// Hits returns how often paths ending in suffix were requested.
func (a *Archive) Hits(suffix string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for p, c := range a.hits {
		if strings.HasSuffix(p, suffix) {
			n += c
		}
	}
	return n
}

// Set replaces the content served at path (to tamper with it).
func (a *Archive) Set(path string, data []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.files[path] = data
}

// Get returns the content served at path.
func (a *Archive) Get(path string) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.files[path]
}

// Deb builds a .deb (ar archive with a zstd data.tar) holding the kernel's
// image, config and 1.1 MiB of padding (archive indices treat smaller
// packages as meta packages).
func Deb(k Kernel) ([]byte, error) {
	var data bytes.Buffer
	zw, err := zstd.NewWriter(&data)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	pad := make([]byte, 1100<<10)
	rand.Read(pad)
	type file struct {
		name string
		body []byte
	}
	dir := "./boot/"
	img, cfg := dir+"vmlinuz-"+k.Release, dir+"config-"+k.Release
	if k.Modules {
		dir = "./usr/lib/modules/" + k.Release + "/"
		img, cfg = dir+"vmlinuz", dir+"config"
	}
	files := []file{{img, k.Image}}
	if k.Config != nil {
		files = append(files, file{cfg, k.Config})
	}
	if k.Files != nil {
		files = nil
		names := make([]string, 0, len(k.Files))
		for n := range k.Files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			files = append(files, file{n, k.Files[n]})
		}
	}
	files = append(files, file{"./usr/share/doc/pad", pad})
	tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.body))}); err != nil {
			return nil, err
		}
		tw.Write(f.body)
	}
	tw.Close()
	zw.Close()

	var ctl bytes.Buffer
	gw := gzip.NewWriter(&ctl)
	ct := tar.NewWriter(gw)
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\n", k.Package, k.Version, k.arch())
	ct.WriteHeader(&tar.Header{Name: "./control", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(control))})
	ct.Write([]byte(control))
	ct.Close()
	gw.Close()

	return Ar([]ArMember{
		{"debian-binary", []byte("2.0\n")},
		{"control.tar.gz", ctl.Bytes()},
		{"data.tar.zst", data.Bytes()},
	}), nil
}

// ArMember is one member of an ar archive.
type ArMember struct {
	Name string
	Data []byte
}

// Ar writes an ar archive as dpkg-deb does.
func Ar(members []ArMember) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.Name, 0, 0, 0, "100644", len(m.Data))
		b.Write(m.Data)
		if len(m.Data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// Silent starts a loopback server that accepts connections and never
// answers (a hung mirror or registry) and returns its host:port. It stops
// when the test ends.
func Silent(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	return ln.Addr().String()
}
