package kernels

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/corematrix/corematrix/internal/atomicfile"
)

// LockFileName is the lock file's conventional name.
const LockFileName = "kernels.lock"

// LockFile pins kernel names to exact images for reproducible runs. Written
// by `vmtest kernels lock`; a run that finds a name in it resolves to exactly
// that image or fails naming the kernel.
type LockFile struct {
	// Version of the file format.
	Version int `json:"version"`
	// Kernels maps a kernel name to its pinned image.
	Kernels map[string]LockEntry `json:"kernels"`
}

// LockEntry is one pinned kernel.
type LockEntry struct {
	// Source is the image's source (see Image.Source).
	Source string `json:"source"`
	// Version is the kernel version, e.g. "6.1.176".
	Version string `json:"version"`
	// Release is uname -r of the kernel.
	Release string `json:"release,omitempty"`
	// SHA256 is the hash of the bzImage.
	SHA256 string `json:"sha256"`
	// ConfigSHA256 is the hash of the kernel config, if any.
	ConfigSHA256 string `json:"config_sha256,omitempty"`

	// Debian packages: the suite, package, version, the pool path relative
	// to the mirror, and the package's size and hash from the signed index.
	Suite          string `json:"suite,omitempty"`
	Package        string `json:"package,omitempty"`
	PackageVersion string `json:"package_version,omitempty"`
	Filename       string `json:"filename,omitempty"`
	Size           int64  `json:"size,omitempty"`
	PackageSHA256  string `json:"package_sha256,omitempty"`
	// BasePackage holds the config of 7.x kernels (linux-base-*).
	BaseFilename string `json:"base_filename,omitempty"`
	BaseSize     int64  `json:"base_size,omitempty"`
	BaseSHA256   string `json:"base_sha256,omitempty"`
	// ModulesPackage holds the modules of 7.x kernels (linux-modules-*).
	ModulesFilename string `json:"modules_filename,omitempty"`
	ModulesSize     int64  `json:"modules_size,omitempty"`
	ModulesSHA256   string `json:"modules_sha256,omitempty"`

	// OCI images: the reference with its manifest digest.
	OCIRef string `json:"oci_ref,omitempty"`

	// Unverified says the Debian index naming the package was not
	// signature-checked (Options.AllowUnverified).
	Unverified bool `json:"unverified,omitempty"`
}

const lockVersion = 1

// ReadLockFile reads a lock file. A missing file gives an empty lock and an
// error matching os.ErrNotExist.
func ReadLockFile(path string) (*LockFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return &LockFile{Version: lockVersion, Kernels: map[string]LockEntry{}}, err
	}
	var lf LockFile
	if err := json.Unmarshal(data, &lf); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if lf.Version != lockVersion {
		return nil, fmt.Errorf("parse %s: lock file version %d, want %d", path, lf.Version, lockVersion)
	}
	if lf.Kernels == nil {
		lf.Kernels = map[string]LockEntry{}
	}
	for name, e := range lf.Kernels {
		if len(e.SHA256) != 64 || e.Source == "" {
			return nil, fmt.Errorf("parse %s: kernel %s: entry lacks source or sha256", path, name)
		}
	}
	return &lf, nil
}

// Write writes the lock file atomically, names sorted.
func (lf *LockFile) Write(path string) error {
	lf.Version = lockVersion
	data, err := json.MarshalIndent(lf, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o644)
}

// Names returns the locked names, sorted.
func (lf *LockFile) Names() []string {
	out := make([]string, 0, len(lf.Kernels))
	for n := range lf.Kernels {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// LoadLockFile reads path, treating a missing file as no lock (nil).
func LoadLockFile(path string) (*LockFile, error) {
	lf, err := ReadLockFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return lf, err
}
