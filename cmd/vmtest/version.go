package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

func init() {
	register("version", "print the version of vmtest, its commit, Go and cilium/ebpf (also vmtest --version)", func(ctx context.Context, args []string) error {
		fs := newFlags("vmtest version", "vmtest version   (or vmtest --version)",
			"Prints the module version, the VCS commit, the Go version and the cilium/ebpf version\nthis binary was built with.")
		if rest, err := fs.parse(args, true); err != nil || len(rest) > 0 {
			return orFail(err, fs, "takes no arguments, got %q", rest)
		}
		info, ok := debug.ReadBuildInfo()
		if !ok {
			return fmt.Errorf("no build information in this binary")
		}
		printVersion(os.Stdout, info)
		return nil
	})
}

// printVersion prints the module version, the VCS commit (with "+dirty" for
// a modified tree) and its time, the Go version and the cilium/ebpf version
// the binary was built with. The go command stamps the commit only when it
// builds in a git checkout with -buildvcs on (the default, not in a git
// worktree, whose .git is a file).
func printVersion(w io.Writer, info *debug.BuildInfo) {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	commit := settings["vcs.revision"]
	if commit == "" {
		commit = "unknown (built without VCS information)"
	} else {
		if settings["vcs.modified"] == "true" {
			commit += "+dirty"
		}
		if t := settings["vcs.time"]; t != "" {
			commit += " (" + t + ")"
		}
	}
	ebpfVersion := "not linked"
	for _, d := range info.Deps {
		if d.Path == "github.com/cilium/ebpf" {
			ebpfVersion = d.Version
			if d.Replace != nil {
				ebpfVersion += " => " + d.Replace.Path + " " + d.Replace.Version
			}
		}
	}
	for _, kv := range [][2]string{
		{"vmtest", info.Main.Version},
		{"module", info.Main.Path},
		{"commit", commit},
		{"go", info.GoVersion},
		{"cilium/ebpf", ebpfVersion},
	} {
		fmt.Fprintf(w, "%-12s %s\n", kv[0], kv[1])
	}
}
