package main

import (
	"fmt"
	"io"
	"os"

	"github.com/corematrix/corematrix/kernels"
	"github.com/corematrix/corematrix/kernels/progress"
)

// kernelFlags are the flags that choose where kernel images come from.
type kernelFlags struct {
	cacheDir string
	offline  bool
	mirror   string
	lock     string
	// allowUnverified uses Debian indices without a keyring to check them.
	allowUnverified bool
}

// addKernelFlags registers the kernel-source flags on fs.
func addKernelFlags(fs *flags) *kernelFlags {
	kf := &kernelFlags{}
	fs.StringVar(&kf.cacheDir, "cache-dir", "", "kernel cache directory (default $CM_CACHE_DIR, $XDG_CACHE_HOME/corematrix or ~/.cache/corematrix)")
	fs.BoolVar(&kf.offline, "offline", false, "use only cached indices and images; never touch the network")
	fs.StringVar(&kf.mirror, "debian-mirror", "", "Debian archive URL (default $CM_DEBIAN_MIRROR, else this machine's apt sources)")
	fs.BoolVar(&kf.allowUnverified, "allow-unverified", false, "use Debian indices whose signature cannot be checked (no keyring installed); such kernels are marked unverified in every report")
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

		AllowUnverified: kf.allowUnverified,
	}
	if path, must := kf.lockPath(); path != "" && !ignoreLock {
		read := kernels.LoadLockFile // the default lock file may be missing
		if must {
			read = kernels.ReadLockFile
		}
		lf, err := read(path)
		if err != nil {
			return nil, fmt.Errorf("--lock: %w", err)
		}
		opts.LockFile = lf
	}
	return kernels.New(opts)
}

// resolver returns the resolver those flags describe: kernels (6.1,
// 6.1.176, latest, deb:SUITE/PACKAGE, oci:REF, paths) resolved and verified
// by the kernels package, with progress on stderr.
func (kf *kernelFlags) resolver() (*kernels.Resolver, error) {
	return kf.resolverTo(os.Stderr)
}

// resolverTo is resolver with progress written to w, a line per step.
func (kf *kernelFlags) resolverTo(w io.Writer) (*kernels.Resolver, error) {
	return kf.newResolver(progress.New(w, false), false)
}
