package debian

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func pkg(name, version string, size int64) Package {
	return Package{Name: name, Version: version, Size: size, Filename: "pool/" + name + "_" + version + ".deb", SHA256: name}
}

func TestFindCandidates(t *testing.T) {
	const mb = 1 << 20
	pkgs := []Package{
		pkg("linux-image-6.1.0-49-cloud-amd64", "6.1.170-1", 25*mb),
		pkg("linux-image-6.1.0-50-cloud-amd64-unsigned", "6.1.176-1", 25*mb),
		pkg("linux-image-6.1.0-50-cloud-amd64", "6.1.176-1", 25*mb),
		pkg("linux-image-6.1.0-50-cloud-amd64-dbg", "6.1.176-1", 900*mb),
		pkg("linux-image-cloud-amd64", "6.1.176-1", 2000),
		pkg("linux-image-6.1.0-50-amd64", "6.1.176-1", 60*mb),
		// The 7.x split: the image in linux-binary-*, a tiny linux-image-* meta
		// package, and the config in linux-base-*.
		pkg("linux-image-7.2.13+deb14-cloud-amd64", "7.2.13-1", 1916),
		pkg("linux-binary-unsigned-7.2.13+deb14-cloud-amd64", "7.2.13-1", 13*mb),
		pkg("linux-binary-7.2.13+deb14-cloud-amd64", "7.2.13-1", 13*mb),
		pkg("linux-base-7.2.13+deb14-cloud-amd64", "7.2.13-1", 400<<10),
	}
	got := FindCandidates("sid", pkgs)
	want := []struct{ name, up, line, abi string }{
		{"linux-binary-7.2.13+deb14-cloud-amd64", "7.2.13", "7.2", "7.2.13+deb14"},
		{"linux-image-6.1.0-50-cloud-amd64", "6.1.176", "6.1", "6.1.0-50"},
		{"linux-image-6.1.0-49-cloud-amd64", "6.1.170", "6.1", "6.1.0-49"},
	}
	require.Len(t, got, len(want), "FindCandidates found %d candidates, want %d: %+v", len(got), len(want), got)
	for i, w := range want {
		g := got[i]
		assert.Equal(t, w.name, g.Package.Name, "candidate %d = %s %s line %s abi %s, want %s %s line %s abi %s", i, g.Package.Name, g.Upstream, g.Line, g.ABI, w.name, w.up, w.line, w.abi)
		assert.Equal(t, w.up, g.Upstream, "candidate %d = %s %s line %s abi %s, want %s %s line %s abi %s", i, g.Package.Name, g.Upstream, g.Line, g.ABI, w.name, w.up, w.line, w.abi)
		assert.Equal(t, w.line, g.Line, "candidate %d = %s %s line %s abi %s, want %s %s line %s abi %s", i, g.Package.Name, g.Upstream, g.Line, g.ABI, w.name, w.up, w.line, w.abi)
		assert.Equal(t, w.abi, g.ABI, "candidate %d = %s %s line %s abi %s, want %s %s line %s abi %s", i, g.Package.Name, g.Upstream, g.Line, g.ABI, w.name, w.up, w.line, w.abi)
		assert.EqualValues(t, "sid", g.Suite, "candidate %d = %s %s line %s abi %s, want %s %s line %s abi %s", i, g.Package.Name, g.Upstream, g.Line, g.ABI, w.name, w.up, w.line, w.abi)
	}
	assert.NotNil(t, got[0].Base, "7.x candidate base = %+v, want linux-base-7.2.13+deb14-cloud-amd64", got[0].Base)
	assert.EqualValues(t, "linux-base-7.2.13+deb14-cloud-amd64", got[0].Base.Name, "7.x candidate base = %+v, want linux-base-7.2.13+deb14-cloud-amd64", got[0].Base)
	assert.EqualValues(t, "7.2.13+deb14-cloud-amd64", got[0].Release(), "Release() = %q", got[0].Release())
	assert.Nil(t, got[1].Base, "6.1 candidate has a base package %+v", got[1].Base)
}

func TestImagePackages(t *testing.T) {
	got := ImagePackages([]Package{
		pkg("linux-image-6.1.0-50-amd64", "6.1.176-1", 60<<20),
		pkg("linux-image-6.1.0-50-amd64-dbg", "6.1.176-1", 900<<20),
		pkg("linux-image-amd64", "6.1.176-1", 1500),
		pkg("linux-headers-6.1.0-50-amd64", "6.1.176-1", 2<<20),
	})
	require.Len(t, got, 1, "ImagePackages = %+v, want only linux-image-6.1.0-50-amd64", got)
	require.EqualValues(t, "linux-image-6.1.0-50-amd64", got[0].Name, "ImagePackages = %+v, want only linux-image-6.1.0-50-amd64", got)
}
