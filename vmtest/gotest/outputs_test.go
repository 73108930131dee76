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
