package kernels

import (
	"bufio"
	"bytes"
	"os"
	"regexp"
	"strings"
)

// Image is a resolved kernel image on disk, verified against its source.
type Image struct {
	// Name is what was asked for ("6.1", "oci:...", a path).
	Name string `json:"name"`
	// Version is the kernel version, e.g. "6.1.176".
	Version string `json:"version"`
	// Release is what uname -r prints in the kernel, e.g. "6.1.0-50-cloud-amd64".
	Release string `json:"release"`
	// KernelVersion is the full version string from the bzImage header.
	KernelVersion string `json:"kernel_version"`
	// Source says where the image came from, e.g.
	// "debian:bookworm/linux-image-6.1.0-50-cloud-amd64=6.1.176-1",
	// "oci:ghcr.io/cilium/ci-kernels:5.4@sha256:...", "local:/path".
	Source string `json:"source"`
	// Path is the bzImage on disk.
	Path string `json:"path"`
	// ConfigPath is the kernel's config, empty when the source has none.
	ConfigPath string `json:"config_path,omitempty"`
	// SHA256 is the hash of the bzImage.
	SHA256 string `json:"sha256"`
	// HasBTF says whether the image carries kernel BTF (.BTF section).
	HasBTF bool `json:"has_btf"`
	// Unverified says the image's Debian index was used without checking
	// its signature (Options.AllowUnverified). Reports mark such kernels.
	Unverified bool `json:"unverified,omitempty"`
	// Config holds the values of the HighlightedConfig options
	// ("y", "m", or "n" when unset), from the config file or else the config
	// embedded in the image (CONFIG_IKCONFIG); nil without either.
	Config map[string]string `json:"config,omitempty"`
	// Modules is the directory holding the kernel's modules tree
	// (Modules/ModulesRelease/kernel/..., modules.dep, modules.alias),
	// from the same verified package as the image; empty when there is
	// none, and ModulesMissing says why.
	Modules            string `json:"modules,omitempty"`
	ModulesRelease     string `json:"modules_release,omitempty"`
	ModulesCompression string `json:"modules_compression,omitempty"`
	ModulesMissing     string `json:"modules_missing,omitempty"`
}

// HighlightedConfig lists the config options that matter for eBPF tracers.
var HighlightedConfig = []string{
	"CONFIG_BPF_SYSCALL",
	"CONFIG_BPF_JIT",
	"CONFIG_DEBUG_INFO_BTF",
	"CONFIG_DEBUG_INFO_BTF_MODULES",
	"CONFIG_KPROBES",
	"CONFIG_KPROBE_EVENTS",
	"CONFIG_BPF_EVENTS",
	"CONFIG_UPROBE_EVENTS",
	"CONFIG_FTRACE_SYSCALLS",
	"CONFIG_CGROUP_BPF",
	"CONFIG_BPF_LSM",
	"CONFIG_SERIAL_8250_CONSOLE",
}

var configLine = regexp.MustCompile(`^(CONFIG_[A-Za-z0-9_]+)=(.*)$`)
var configUnset = regexp.MustCompile(`^# (CONFIG_[A-Za-z0-9_]+) is not set$`)

// ParseConfig reads a kernel .config into a map of option to value
// ("y", "m", a quoted string, a number); unset options are "n".
func ParseConfig(data []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if g := configLine.FindStringSubmatch(line); g != nil {
			m[g[1]] = g[2]
		} else if g := configUnset.FindStringSubmatch(line); g != nil {
			m[g[1]] = "n"
		}
	}
	return m
}

// configHighlights returns the HighlightedConfig values of the config file
// at path, or nil when there is none.
func configHighlights(path string) map[string]string {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return highlights(ParseConfig(data))
}

// highlights picks the HighlightedConfig values out of a parsed config.
func highlights(all map[string]string) map[string]string {
	out := make(map[string]string, len(HighlightedConfig))
	for _, k := range HighlightedConfig {
		v, ok := all[k]
		if !ok {
			v = "n"
		}
		out[k] = v
	}
	return out
}

var versionPrefix = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?`)

// versionFromRelease returns the leading version of a kernel release,
// "5.4.290-ci" -> "5.4.290".
func versionFromRelease(rel string) string {
	return versionPrefix.FindString(strings.TrimSpace(rel))
}
