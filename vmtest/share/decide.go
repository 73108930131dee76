package share

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/corematrix/corematrix/kernel"
)

// Decision is how one kernel's guest gets its files.
type Decision struct {
	Mode Mode
	// Reason says why this mode: what the kernel has or lacks.
	Reason string
	// BootModules are the host paths of the modules the guest loads, in
	// this order, before it mounts the exports.
	BootModules []string
	// ModulesExport serves the kernel's modules tree at /lib/modules
	// (empty Tag when the kernel has none).
	ModulesExport Export
	// Nodes are the device nodes the guest makes when it mounts the
	// modules tree (StaticNodes of its modules.alias).
	Nodes []Node
}

// needs lists, per mode, the config symbols a guest must have (built in,
// or as a module of its tree) and the module each is in.
var needs = map[Mode][]struct{ sym, mod string }{
	VirtioFS: {{"CONFIG_VIRTIO_PCI", "virtio_pci"}, {"CONFIG_FUSE_FS", "fuse"}, {"CONFIG_VIRTIO_FS", "virtiofs"}, {"CONFIG_OVERLAY_FS", "overlay"}},
	NineP:    {{"CONFIG_VIRTIO_PCI", "virtio_pci"}, {"CONFIG_NET_9P", "9pnet"}, {"CONFIG_NET_9P_VIRTIO", "9pnet_virtio"}, {"CONFIG_9P_FS", "9p"}, {"CONFIG_OVERLAY_FS", "overlay"}},
}

// Decide chooses how k's guest gets its files: virtiofs when the kernel
// can mount it (built in or from its own modules) and a daemon is usable,
// else 9p when the kernel can mount that, else the packed fallback, with
// the reason.
func Decide(k kernel.Kernel, daemon *Daemon, daemonErr error) Decision {
	cfg := k.Config
	if k.ConfigPath != "" {
		if c, err := readConfig(k.ConfigPath); err == nil {
			cfg = c
		}
	}
	if cfg == nil {
		return Decision{Mode: Packed, Reason: "packed: the kernel's config is unknown, so it is not known whether it mounts virtiofs or 9p"}
	}
	var dep map[string][]string
	if k.Modules != "" {
		data, err := os.ReadFile(filepath.Join(k.Modules, k.ModulesRelease, "modules.dep"))
		if err == nil {
			dep = readDep(string(data))
		}
	}
	var why []string
	for _, mode := range []Mode{VirtioFS, NineP} {
		var load []string
		ok := true
		for _, n := range needs[mode] {
			switch v := cfg[n.sym]; {
			case v == "y":
			case v == "m" && dep != nil && dep[n.mod] != nil:
				load = append(load, n.mod)
			case v == "m" && dep == nil:
				ok = false
				miss := k.ModulesMissing
				if miss == "" {
					miss = "none found"
				}
				why = append(why, fmt.Sprintf("%s: %s=m but the kernel has no module set (%s)", mode, n.sym, miss))
			case v == "m":
				ok = false
				why = append(why, fmt.Sprintf("%s: %s=m but its module %s is not in the kernel's modules", mode, n.sym, n.mod))
			default:
				ok = false
				why = append(why, fmt.Sprintf("%s: %s is not set", mode, n.sym))
			}
			if !ok {
				break
			}
		}
		if ok && mode == VirtioFS && daemon == nil {
			ok = false
			why = append(why, fmt.Sprintf("virtiofs: %v", daemonErr))
		}
		if !ok {
			continue
		}
		d := Decision{Mode: mode}
		order, err := loadOrder(dep, load)
		if err != nil {
			why = append(why, fmt.Sprintf("%s: %v", mode, err))
			continue
		}
		for _, p := range order {
			d.BootModules = append(d.BootModules, filepath.Join(k.Modules, k.ModulesRelease, filepath.FromSlash(p)))
		}
		have := "built in"
		if len(load) > 0 {
			have = "modules " + strings.Join(load, ", ") + " loaded at boot from the kernel's own package"
		}
		switch mode {
		case VirtioFS:
			d.Reason = fmt.Sprintf("virtiofs (%s; %s)", have, daemon)
		default:
			d.Reason = fmt.Sprintf("9p (%s)", have)
			if len(why) > 0 {
				d.Reason += "; not " + why[0]
			}
		}
		d.addModulesTree(k)
		return d
	}
	return Decision{Mode: Packed, Reason: "packed: the kernel mounts neither virtiofs nor 9p (" + strings.Join(why, "; ") + ")"}
}

// addModulesTree serves k's modules tree (when it has one) at /lib/modules
// with the device nodes of its modules.alias.
func (d *Decision) addModulesTree(k kernel.Kernel) {
	if k.Modules == "" {
		return
	}
	d.ModulesExport = Export{Tag: "cm-modules", Host: k.Modules, Guest: "/lib/modules"}
	if alias, err := os.ReadFile(filepath.Join(k.Modules, k.ModulesRelease, "modules.alias")); err == nil {
		d.Nodes = StaticNodes(alias)
	}
}

// readConfig reads the =y/=m symbols of a kernel config file.
func readConfig(p string) (map[string]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.HasPrefix(k, "CONFIG_") {
			cfg[k] = v
		}
	}
	return cfg, sc.Err()
}

// readDep parses modules.dep into module name -> its line's paths (the
// module's own path first, then its dependencies as depmod lists them).
func readDep(data string) map[string][]string {
	dep := map[string][]string{}
	for line := range strings.SplitSeq(data, "\n") {
		p, rest, ok := strings.Cut(line, ":")
		if !ok || !validRel(p) {
			continue
		}
		paths := []string{p}
		for d := range strings.FieldsSeq(rest) {
			if validRel(d) {
				paths = append(paths, d)
			}
		}
		dep[modName(p)] = paths
	}
	return dep
}

func modName(p string) string {
	return strings.ReplaceAll(strings.TrimSuffix(path.Base(p), ".ko"), "-", "_")
}

func validRel(p string) bool {
	return strings.HasSuffix(p, ".ko") && !path.IsAbs(p) && path.Clean(p) == p && !strings.HasPrefix(p, "../")
}

// loadOrder returns the module paths to load for names: each module's
// dependencies (loaded from the end of its modules.dep line) before it,
// each once.
func loadOrder(dep map[string][]string, names []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		line := dep[n]
		if line == nil {
			return nil, fmt.Errorf("module %s is not in modules.dep", n)
		}
		seq := append(append([]string{}, reverse(line[1:])...), line[0])
		for _, p := range seq {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
