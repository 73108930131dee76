package debian

import "testing"

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
	if len(got) != len(want) {
		t.Fatalf("FindCandidates found %d candidates, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Package.Name != w.name || g.Upstream != w.up || g.Line != w.line || g.ABI != w.abi || g.Suite != "sid" {
			t.Errorf("candidate %d = %s %s line %s abi %s, want %s %s line %s abi %s", i, g.Package.Name, g.Upstream, g.Line, g.ABI, w.name, w.up, w.line, w.abi)
		}
	}
	if got[0].Base == nil || got[0].Base.Name != "linux-base-7.2.13+deb14-cloud-amd64" {
		t.Errorf("7.x candidate base = %+v, want linux-base-7.2.13+deb14-cloud-amd64", got[0].Base)
	}
	if got[0].Release() != "7.2.13+deb14-cloud-amd64" {
		t.Errorf("Release() = %q", got[0].Release())
	}
	if got[1].Base != nil {
		t.Errorf("6.1 candidate has a base package %+v", got[1].Base)
	}
}

func TestImagePackages(t *testing.T) {
	got := ImagePackages([]Package{
		pkg("linux-image-6.1.0-50-amd64", "6.1.176-1", 60<<20),
		pkg("linux-image-6.1.0-50-amd64-dbg", "6.1.176-1", 900<<20),
		pkg("linux-image-amd64", "6.1.176-1", 1500),
		pkg("linux-headers-6.1.0-50-amd64", "6.1.176-1", 2<<20),
	})
	if len(got) != 1 || got[0].Name != "linux-image-6.1.0-50-amd64" {
		t.Fatalf("ImagePackages = %+v, want only linux-image-6.1.0-50-amd64", got)
	}
}
