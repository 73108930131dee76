package gotest

import (
	"path/filepath"
	"strings"
	"time"
)

// profileFlags are the test binary's flags that name a file it writes.
var profileFlags = []string{
	"test.coverprofile", "test.cpuprofile", "test.memprofile",
	"test.blockprofile", "test.mutexprofile", "test.trace",
}

// Outputs is what a test binary run with some arguments writes for its caller.
type Outputs struct {
	// Files are the profiles it writes (-test.coverprofile, -test.cpuprofile,
	// -test.memprofile, -test.blockprofile, -test.mutexprofile, -test.trace).
	Files []string
	// Dirs are -test.outputdir, -test.gocoverdir and $GOCOVERDIR.
	Dirs []string
}

// FindOutputs returns the absolute paths of what a test binary given args
// and env writes, resolving relative paths as the testing package does: a
// relative profile path lies in -test.outputdir when one is set, else (like
// a relative directory) in dir, the binary's working directory.
func FindOutputs(args, env []string, dir string) Outputs {
	vals := flagValues(args)
	var o Outputs
	outdir := dir
	if v := vals["test.outputdir"]; v != "" {
		outdir = abs(dir, v)
		o.Dirs = append(o.Dirs, outdir)
	}
	for _, f := range profileFlags {
		if v := vals[f]; v != "" {
			o.Files = append(o.Files, abs(outdir, v))
		}
	}
	if v := vals["test.gocoverdir"]; v != "" {
		o.Dirs = append(o.Dirs, abs(dir, v))
	}
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "GOCOVERDIR="); ok && v != "" {
			o.Dirs = append(o.Dirs, abs(dir, v))
		}
	}
	return o
}

// CoverProfile returns the absolute path of the -test.coverprofile in args
// (resolved as FindOutputs does), or "".
func CoverProfile(args []string, dir string) string {
	vals := flagValues(args)
	v := vals["test.coverprofile"]
	if v == "" {
		return ""
	}
	if o := vals["test.outputdir"]; o != "" {
		dir = abs(dir, o)
	}
	return abs(dir, v)
}

func abs(base, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

// flagValues returns the values of the -test.* flags in args.
func flagValues(args []string) map[string]string {
	vals := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		name, v, hasV := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(name, "test.") {
			continue
		}
		if !hasV {
			if !takesValue(name) || i+1 >= len(args) {
				continue
			}
			i++
			v = args[i]
		}
		vals[name] = v
	}
	return vals
}

// takesValue reports whether a -test.* flag needs a value (booleans do not).
func takesValue(name string) bool {
	switch name {
	case "test.v", "test.short", "test.failfast", "test.benchmem", "test.paniconexit0", "test.fullpath":
		return false
	}
	return true
}

// Timeout returns the -test.timeout in args, or 0.
func Timeout(args []string) time.Duration {
	var d time.Duration
	for i := 0; i < len(args); i++ {
		name, v, hasV := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if name != "test.timeout" {
			continue
		}
		if !hasV && i+1 < len(args) {
			i++
			v = args[i]
		}
		if t, err := time.ParseDuration(v); err == nil {
			d = t
		}
	}
	return d
}
