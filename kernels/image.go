package kernels

import (
	"bufio"
	"bytes"
	"os"
	"regexp"
	"strings"
)

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
