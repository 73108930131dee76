package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/corematrix/corematrix/corpus"
)

func init() {
	register("corpus", "fetch the BPF objects Debian builds (packages pinned in corpus/pins.txt) into a directory, for vmtest load", runCorpus)
}

// runCorpus is `vmtest corpus DIR`: the pinned packages' objects into DIR
// (one directory per package), or with --newest SUITE/ARCH PACKAGE... the
// pin lines of the newest versions there.
func runCorpus(ctx context.Context, args []string) error {
	fs := newFlags("vmtest corpus", "vmtest corpus [--arch amd64] DIR | vmtest corpus --newest SUITE/ARCH PACKAGE...",
		"Downloads the Debian packages pinned in corpus/pins.txt through the verified archive (InRelease\n"+
			"signature, Packages hash, package hash; the pin's SHA-256 must be the index's) and writes their BPF\n"+
			"objects (.o files, and the objects libbpf skeletons embed in executables) under DIR, one directory\n"+
			"per package. Prints each object's path, for vmtest load.")
	arch := fs.String("arch", "", "only pins of these architectures (comma-separated; default all)")
	newest := fs.String("newest", "", "print pin lines for the newest versions of PACKAGEs in `SUITE/ARCH`")
	kf := addKernelFlags(fs)
	rest, err := fs.parse(args, true)
	if err != nil {
		return err
	}
	r, err := kf.resolver()
	if err != nil {
		return usageError(err)
	}
	a, err := r.Archive()
	if err != nil {
		return exitWith(exitInfra, err)
	}
	if *newest != "" {
		suite, ar, ok := strings.Cut(*newest, "/")
		if !ok || len(rest) == 0 {
			return fs.failf("--newest wants SUITE/ARCH and PACKAGE names")
		}
		pins, err := corpus.Newest(ctx, a, suite, ar, rest)
		for _, p := range pins {
			fmt.Println(p)
		}
		return exitOn(err)
	}
	if len(rest) != 1 {
		return fs.failf("want one DIR")
	}
	pins, err := corpus.Pins()
	if err != nil {
		return exitWith(exitInfra, err)
	}
	if *arch != "" {
		keep := strings.Split(*arch, ",")
		pins = slices.DeleteFunc(pins, func(p corpus.Pin) bool { return !slices.Contains(keep, p.Arch) })
	}
	got, err := corpus.Fetch(ctx, a, pins, rest[0])
	for _, f := range got {
		fmt.Fprintf(os.Stderr, "%s %s (%s): %d objects\n", f.Pin.Name, f.Pin.Version, f.Pin.Arch, len(f.Objects))
		for _, o := range f.Objects {
			fmt.Println(filepath.Join(f.Dir, o))
		}
	}
	return exitOn(err)
}

// exitOn is nil, or err as an infrastructure failure.
func exitOn(err error) error {
	if err != nil {
		return exitWith(exitInfra, err)
	}
	return nil
}
