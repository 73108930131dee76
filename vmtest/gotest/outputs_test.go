package gotest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFindOutputs(t *testing.T) {
	// What go test passes with -cover -coverprofile=c.out -cpuprofile=cpu.out.
	args := []string{"-test.paniconexit0", "-test.gocoverdir=/tmp/go-build1/b001/gocoverdir",
		"-test.timeout=10m0s", "-test.outputdir=/src/pkg", "-test.v=true",
		"-test.coverprofile=/tmp/go-build1/b001/_cover_.out", "-test.cpuprofile=cpu.out",
		"-test.trace", "t.out", "-test.run", "X"}
	o := FindOutputs(args, []string{"HOME=/root", "GOCOVERDIR=cov"}, "/src/pkg")
	require.Equal(t, []string{"/tmp/go-build1/b001/_cover_.out", "/src/pkg/cpu.out", "/src/pkg/t.out"}, o.Files)
	require.Equal(t, []string{"/src/pkg", "/tmp/go-build1/b001/gocoverdir", "/src/pkg/cov"}, o.Dirs)

	o = FindOutputs([]string{"-test.outputdir", "out", "-test.memprofile=m.out"}, nil, "/w")
	require.Equal(t, []string{"/w/out/m.out"}, o.Files)
	require.Equal(t, []string{"/w/out"}, o.Dirs)

	require.Equal(t, "/tmp/go-build1/b001/_cover_.out", CoverProfile(args, "/src/pkg"))
	require.Equal(t, "/w/o/c.out", CoverProfile([]string{"-test.outputdir=o", "-test.coverprofile=c.out"}, "/w"))
	require.Empty(t, CoverProfile([]string{"-test.v"}, "/w"))

	o = FindOutputs([]string{"-test.memprofile=m.out"}, nil, "/w")
	require.Equal(t, []string{"/w/m.out"}, o.Files)
	require.Empty(t, o.Dirs)
}

func TestTimeout(t *testing.T) {
	require.Equal(t, 90*time.Second, Timeout([]string{"-test.v", "-test.timeout=1m30s"}))
	require.Equal(t, time.Minute, Timeout([]string{"-test.timeout", "1m"}))
	require.Zero(t, Timeout([]string{"-test.v"}))
}

func TestPlace(t *testing.T) {
	args := []string{"-test.gocoverdir=/tmp/b001/gocoverdir", "-test.outputdir=/src/pkg",
		"-test.cpuprofile=cpu.out", "-test.artifacts", "-test.trace=/abs/t.out"}
	o := FindOutputs(args, []string{"GOCOVERDIR=/cov"}, "/src/pkg")
	require.Equal(t, "/src/pkg/_artifacts", o.Artifacts)
	require.Equal(t, []string{"/tmp/b001/gocoverdir", "/cov"}, o.CoverDirs)
	for _, tc := range []struct {
		path string
		want Place
	}{
		{"/src/pkg/cpu.out", Place{Root: "/src/pkg", Rel: "cpu.out", Named: true}},
		{"/abs/t.out", Place{Root: "/abs", Rel: "t.out", Named: true}},
		{"/cov/covmeta.0123abcd", Place{Root: "/cov", Rel: "covmeta.0123abcd"}},
		{"/tmp/b001/gocoverdir/covcounters.0123.42.1700", Place{Root: "/tmp/b001/gocoverdir", Rel: "covcounters.0123.42.1700"}},
		{"/src/pkg/_artifacts/pkg/TestX/123/shot.png", Place{Root: "/src/pkg", Rel: "_artifacts/pkg/TestX/123/shot.png"}},
	} {
		got, err := o.Place(tc.path)
		require.NoError(t, err, "Place(%q)", tc.path)
		require.Equal(t, tc.want, got, "Place(%q)", tc.path)
	}
	for _, bad := range []string{
		"/src/pkg/.git/hooks/pre-commit", "/src/pkg/Makefile", "/src/pkg/.github/workflows/ci.yml",
		"/src/pkg/link/../planted", "/src/escape", "/cov/sub/covmeta.1", "/cov/evil.sh",
		"/src/pkg/_artifacts", "/src/pkg/_artifacts/../Makefile", "cpu.out", "",
	} {
		_, err := o.Place(bad)
		require.ErrorIs(t, err, ErrNotNamed, "Place(%q)", bad)
	}
	// Without -test.artifacts nothing under the output directory but the
	// profiles comes back.
	o = FindOutputs([]string{"-test.outputdir=/src/pkg", "-test.cpuprofile=cpu.out"}, nil, "/src/pkg")
	_, err := o.Place("/src/pkg/_artifacts/x")
	require.ErrorIs(t, err, ErrNotNamed)
}
