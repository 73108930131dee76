package debian

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const seedPackages = "Package: linux-image-6.1.0-50-cloud-amd64\nSource: linux\nVersion: 6.1.176-1\nDepends: kmod\nFilename: pool/main/l/linux/x.deb\nSize: 12345678\nSHA256: " +
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\nDescription: Linux\n long\n\nPackage: bash\nVersion: 5.2\nFilename: b.deb\n"

// FuzzParsePackages checks the Packages parser on arbitrary text: no panic,
// every stanza it keeps has the fields it promises, and candidates can be
// computed from whatever it returns.
func FuzzParsePackages(f *testing.F) {
	f.Add([]byte(seedPackages))
	f.Add([]byte("Package: linux-image-x\n" + strings.Repeat("Description: ", 1<<15) + "\n"))
	f.Add([]byte("Package linux\n\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := ParsePackages(bytes.NewReader(data), nil)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			require.NotEqual(t, "", p.Name, "kept stanza %+v lacks Package, Version or Filename", p)
			require.NotEqual(t, "", p.Version, "kept stanza %+v lacks Package, Version or Filename", p)
			require.NotEqual(t, "", p.Filename, "kept stanza %+v lacks Package, Version or Filename", p)
		}
		FindCandidates("bookworm", pkgs)
		ImagePackages(pkgs)
	})
}

// FuzzParseRelease checks the Release parser: no panic, and every hash it
// returns is 64 characters with a non-negative size.
func FuzzParseRelease(f *testing.F) {
	f.Add([]byte("Suite: stable\nCodename: bookworm\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nAcquire-By-Hash: yes\nSHA256:\n " +
		strings.Repeat("ab", 32) + " 1234 main/binary-amd64/Packages.gz\n"))
	f.Add([]byte("SHA256:\n x 1 y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rel, err := ParseRelease(data)
		if err != nil {
			return
		}
		for p, h := range rel.SHA256 {
			require.Len(t, h.SHA256, 64, "%s: hash %q size %d", p, h.SHA256, h.Size)
			require.False(t, h.Size < 0, "%s: hash %q size %d", p, h.SHA256, h.Size)
		}
	})
}

// FuzzParseSources checks both apt sources formats and the mirror choice:
// no panic, and a chosen mirror is one of the parsed URIs.
func FuzzParseSources(f *testing.F) {
	f.Add([]byte("Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"))
	f.Add([]byte("deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main\n# comment\ndeb-src http://x y z\n"))
	f.Add([]byte("Types: deb\nURIs:\n http://a\n  http://b\nEnabled: no\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func([]byte) ([]Source, error){
			func(b []byte) ([]Source, error) { return ParseDeb822(bytes.NewReader(b)) },
			func(b []byte) ([]Source, error) { return ParseOneLine(bytes.NewReader(b)) },
		} {
			srcs, err := parse(data)
			if err != nil {
				continue
			}
			m, err := MirrorFrom(srcs)
			if err != nil {
				continue
			}
			found := false
			for _, s := range srcs {
				for _, u := range s.URIs {
					found = found || strings.TrimRight(u, "/") == strings.TrimRight(m, "/")
				}
			}
			require.True(t, found, "mirror %q is none of the URIs of %+v", m, srcs)
		}
	})
}

// FuzzExtractKernel feeds arbitrary bytes to the .deb reader: no panic, and
// no kernel file beyond its limit.
func FuzzExtractKernel(f *testing.F) {
	f.Add([]byte("!<arch>\n"))
	f.Add([]byte("!<arch>\ndata.tar        0           0     0     100644  10        `\n0123456789"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, c, _, _ := ExtractKernelBytes(bytes.NewReader(data))
		require.False(t, len(v) > 256<<20, "extracted %d and %d bytes", len(v), len(c))
		require.False(t, len(c) > 16<<20, "extracted %d and %d bytes", len(v), len(c))
	})
}
