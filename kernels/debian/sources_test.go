package debian

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDeb822(t *testing.T) {
	const in = `Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main contrib
Enabled: no
`
	got, err := ParseDeb822(strings.NewReader(in))
	require.NoError(t, err)
	want := []Source{
		{Types: []string{"deb"}, URIs: []string{"http://mirror.example/debian"}, Suites: []string{"bookworm", "bookworm-updates"},
			Components: []string{"main"}, SignedBy: "/usr/share/keyrings/debian-archive-keyring.gpg", Enabled: true},
		{Types: []string{"deb", "deb-src"}, URIs: []string{"http://mirror.example/debian-security"}, Suites: []string{"bookworm-security"},
			Components: []string{"main", "contrib"}, Enabled: false},
	}
	require.Equal(t, want, got, "ParseDeb822 =\n%+v\nwant\n%+v", got, want)
}

func TestParseDeb822Errors(t *testing.T) {
	for _, in := range []string{" continuation first\n", "Types deb\n"} {
		s, err := ParseDeb822(strings.NewReader(in))
		assert.Error(t, err, "ParseDeb822(%q) = %+v, want an error", in, s)
	}
}

func TestParseOneLine(t *testing.T) {
	const in = `# comment
deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib
deb-src http://mirror.example/debian bookworm main # trailing comment

deb https://mirror.example/debian-security bookworm-security main
`
	got, err := ParseOneLine(strings.NewReader(in))
	require.NoError(t, err)
	want := []Source{
		{Types: []string{"deb"}, URIs: []string{"http://mirror.example/debian"}, Suites: []string{"bookworm"}, Components: []string{"main", "contrib"}, SignedBy: "/k.gpg", Enabled: true},
		{Types: []string{"deb-src"}, URIs: []string{"http://mirror.example/debian"}, Suites: []string{"bookworm"}, Components: []string{"main"}, Enabled: true},
		{Types: []string{"deb"}, URIs: []string{"https://mirror.example/debian-security"}, Suites: []string{"bookworm-security"}, Components: []string{"main"}, Enabled: true},
	}
	require.Equal(t, want, got, "ParseOneLine =\n%+v\nwant\n%+v", got, want)
	_, err = ParseOneLine(strings.NewReader("deb http://x\n"))
	assert.Error(t, err, "ParseOneLine accepted a line without a suite")
}

func TestMirrorFrom(t *testing.T) {
	sec := Source{Types: []string{"deb"}, URIs: []string{"http://m.example/debian-security"}, Suites: []string{"bookworm-security"}, Enabled: true}
	src := Source{Types: []string{"deb-src"}, URIs: []string{"http://src.example/debian"}, Suites: []string{"bookworm"}, Enabled: true}
	off := Source{Types: []string{"deb"}, URIs: []string{"http://off.example/debian"}, Suites: []string{"bookworm"}, Enabled: false}
	main := Source{Types: []string{"deb"}, URIs: []string{"http://m.example/debian/"}, Suites: []string{"bookworm"}, Enabled: true}
	tests := []struct {
		name    string
		sources []Source
		want    string
	}{
		{"skips security, deb-src and disabled", []Source{sec, src, off, main}, "http://m.example/debian"},
		{"none", []Source{sec, src}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MirrorFrom(tt.sources)
			if tt.want == "" {
				require.ErrorIs(t, err, ErrNoMirror, "MirrorFrom = %q, %v; want ErrNoMirror", got, err)
				return
			}
			require.NoError(t, err, "MirrorFrom = %q, %v; want %q", got, err, tt.want)
			require.Equal(t, tt.want, got, "MirrorFrom = %q, %v; want %q", got, err, tt.want)
		})
	}
}

func TestSystemSourcesBothFormats(t *testing.T) {
	root := t.TempDir()
	d := filepath.Join(root, "etc/apt/sources.list.d")
	os.MkdirAll(d, 0o755)
	os.WriteFile(filepath.Join(root, "etc/apt/sources.list"), []byte("deb http://one.example/debian-security bookworm-security main\n"), 0o644)
	os.WriteFile(filepath.Join(d, "debian.sources"), []byte("Types: deb\nURIs: http://two.example/debian\nSuites: bookworm\nComponents: main\n"), 0o644)
	s, err := SystemSources(root)
	require.NoError(t, err)
	require.Len(t, s, 2, "SystemSources read %d sources, want 2: %+v", len(s), s)
	m, err := MirrorFrom(s)
	require.NoError(t, err, "MirrorFrom = %q,", m)
	require.EqualValues(t, "http://two.example/debian", m, "MirrorFrom = %q, %v", m, err)
}
