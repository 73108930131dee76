package main

import (
	"bytes"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPrintVersion(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/corematrix/corematrix", Version: "(devel)"},
		Deps:      []*debug.Module{{Path: "github.com/cilium/ebpf", Version: "v0.22.0"}},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.time", Value: "2026-11-28T09:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	var out bytes.Buffer
	printVersion(&out, info)
	assert.Equal(t, `vmtest       (devel)
module       github.com/corematrix/corematrix
commit       0123abcd+dirty (2026-11-28T09:00:00Z)
go           go1.26.0
cilium/ebpf  v0.22.0
`, out.String())

	out.Reset()
	printVersion(&out, &debug.BuildInfo{GoVersion: "go1.26.0"})
	assert.Contains(t, out.String(), "commit       unknown (built without VCS information)")
	assert.Contains(t, out.String(), "cilium/ebpf  not linked")
}

func TestVersionCommandRejectsArguments(t *testing.T) {
	assert.Equal(t, exitUsage, codeOf(commands["version"].run(t.Context(), []string{"extra"})))
}
