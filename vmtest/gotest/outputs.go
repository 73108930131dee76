package gotest

import (
	"errors"
	"fmt"
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
	// CoverDirs are -test.gocoverdir and $GOCOVERDIR: the runtime writes
	// covmeta.* and covcounters.* files there.
	CoverDirs []string
	// Artifacts is <-test.outputdir>/_artifacts when -test.artifacts is
	// set (testing.T.ArtifactDir's tree), else "".
	Artifacts string
}

// ErrNotNamed means a returned file is not one that go test names: a
// profile flag's path, a coverage file in a coverage directory, or a file in
// the -artifacts tree.
var ErrNotNamed = errors.New("not a file go test asked for")

// Place is where a returned file may be written on the host: Rel beneath
// the directory Root, whose own path (and the links among its ancestors)
// the user named.
type Place struct {
	Root, Rel string
	// Named is set for a file a flag named (a profile): it may replace a
	// file of that name that existed before the run. Every other file must
	// be new.
	Named bool
}

// Place says where the file at path (absolute, as the guest sent it) may
// be written on the host, or why it may not (ErrNotNamed): only the files
// the testing package itself writes for its caller come back.
func (o Outputs) Place(path string) (Place, error) {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return Place{}, fmt.Errorf("%w: path %q is not absolute and clean", ErrNotNamed, path)
	}
	for _, f := range o.Files {
		if path == f {
			return Place{Root: filepath.Dir(f), Rel: filepath.Base(f), Named: true}, nil
		}
	}
	for _, d := range o.CoverDirs {
		if filepath.Dir(path) == d {
			base := filepath.Base(path)
			if strings.HasPrefix(base, "covmeta.") || strings.HasPrefix(base, "covcounters.") {
				return Place{Root: d, Rel: base}, nil
			}
		}
	}
	if o.Artifacts != "" {
		if rel, ok := strings.CutPrefix(path, o.Artifacts+"/"); ok && rel != "" {
			return Place{Root: filepath.Dir(o.Artifacts), Rel: filepath.Join(filepath.Base(o.Artifacts), rel)}, nil
		}
	}
	return Place{}, ErrNotNamed
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
		o.CoverDirs = append(o.CoverDirs, abs(dir, v))
	}
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "GOCOVERDIR="); ok && v != "" {
			o.CoverDirs = append(o.CoverDirs, abs(dir, v))
		}
	}
	o.Dirs = append(o.Dirs, o.CoverDirs...)
	if v := vals["test.artifacts"]; v != "" && v != "false" && vals["test.outputdir"] != "" {
		o.Artifacts = filepath.Join(outdir, "_artifacts")
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
			if !takesValue(name) {
				vals[name] = "true"
				continue
			}
			if i+1 >= len(args) {
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
	case "test.v", "test.short", "test.failfast", "test.benchmem", "test.paniconexit0", "test.fullpath", "test.artifacts":
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
