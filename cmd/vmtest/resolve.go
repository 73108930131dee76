package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/corematrix/corematrix/kernels"
	"github.com/corematrix/corematrix/kernels/progress"
	"github.com/corematrix/corematrix/vmtest"
)

// kernelFlags are the flags that choose where kernel images come from.
type kernelFlags struct {
	cacheDir string
	offline  bool
	mirror   string
	lock     string
}

// addKernelFlags registers the kernel-source flags on fs.
func addKernelFlags(fs *flag.FlagSet) *kernelFlags {
	kf := &kernelFlags{}
	fs.StringVar(&kf.cacheDir, "cache-dir", "", "kernel cache directory (default $CM_CACHE_DIR, $XDG_CACHE_HOME/corematrix or ~/.cache/corematrix)")
	fs.BoolVar(&kf.offline, "offline", false, "use only cached indices and images; never touch the network")
	fs.StringVar(&kf.mirror, "debian-mirror", "", "Debian archive URL (default $CM_DEBIAN_MIRROR, else this machine's apt sources)")
	fs.StringVar(&kf.lock, "lock", "", "kernels.lock pinning names to exact images (default ./kernels.lock when it exists; \"none\" ignores it)")
	return kf
}

// lockPath returns the lock file to use and whether it must exist.
func (kf *kernelFlags) lockPath() (string, bool) {
	switch kf.lock {
	case "":
		return kernels.LockFileName, false
	case "none":
		return "", false
	}
	return kf.lock, true
}

// newResolver builds a kernels.Resolver from the flags. It honours the lock
// file unless ignoreLock is set.
func (kf *kernelFlags) newResolver(p *progress.Reporter, ignoreLock bool) (*kernels.Resolver, error) {
	opts := kernels.Options{
		CacheDir:     kf.cacheDir,
		Offline:      kf.offline,
		DebianMirror: kf.mirror,
		Progress:     p,
	}
	if path, must := kf.lockPath(); path != "" && !ignoreLock {
		lf, err := kernels.ReadLockFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist) && !must:
		case err != nil:
			return nil, fmt.Errorf("--lock: %w", err)
		default:
			opts.LockFile = lf
		}
	}
	return kernels.New(opts)
}

// resolver returns the vmtest.Resolver those flags describe: kernel names
// (6.1, 6.1.176, latest, deb:SUITE/PACKAGE, oci:REF, paths) resolved and
// verified by the kernels package, with progress on stderr.
func (kf *kernelFlags) resolver() (vmtest.Resolver, error) {
	return kf.resolverTo(os.Stderr)
}

// resolverTo is resolver with progress written to w, a line per step.
func (kf *kernelFlags) resolverTo(w io.Writer) (vmtest.Resolver, error) {
	r, err := kf.newResolver(progress.New(w, false), false)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, name string) (vmtest.Kernel, error) {
		img, err := r.Resolve(ctx, name)
		if err != nil {
			return vmtest.Kernel{}, err
		}
		return vmtest.Kernel{Name: img.Name, Version: img.Version, Source: img.Source, SHA256: img.SHA256, Path: img.Path}, nil
	}, nil
}

// parseKernelList splits a --kernels value with the kernels package's grammar,
// so a bad token is named in the error; a kernel listed twice is an error too.
func parseKernelList(list string) ([]string, error) {
	names, err := kernels.ParseList(list)
	if err != nil {
		return nil, fmt.Errorf("--kernels: %w", err)
	}
	seen := map[string]bool{}
	for _, tok := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if seen[tok] {
			return nil, fmt.Errorf("--kernels: kernel %q listed twice", tok)
		}
		seen[tok] = true
	}
	return names, nil
}
