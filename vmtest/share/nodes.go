package share

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Node is a device node whose opening makes the kernel load its module:
// kmod's static-nodes, which distributions create at boot (/dev/fuse,
// /dev/net/tun, /dev/uinput, ...).
type Node struct {
	// Name is the path under /dev (net/tun).
	Name         string
	Block        bool
	Major, Minor uint32
}

// StaticNodes returns the nodes of modules.alias data: a module with both a
// devname:NAME alias and a char-major-M-N (block-major-M-N) alias gives
// /dev/NAME, sorted by name. A NAME that is not a clean relative path, and
// a line that is not "alias ALIAS MODULE", are skipped. The host computes
// them (Decide) so the guest only makes the nodes: reading and parsing the
// alias file in the guest cost 40 ms of every sharing boot under TCG.
func StaticNodes(alias []byte) []Node {
	type node struct {
		name string
		Node
		ok bool
	}
	nodes := map[string]*node{}
	get := func(mod string) *node {
		if nodes[mod] == nil {
			nodes[mod] = &node{}
		}
		return nodes[mod]
	}
	for line := range strings.SplitSeq(string(alias), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "alias" {
			continue
		}
		a, mod := f[1], f[2]
		if name, ok := strings.CutPrefix(a, "devname:"); ok {
			if validNodeName(name) {
				get(mod).name = name
			}
			continue
		}
		for _, kind := range []string{"char-major-", "block-major-"} {
			rest, ok := strings.CutPrefix(a, kind)
			if !ok {
				continue
			}
			var maj, mi uint32
			if _, err := fmt.Sscanf(rest, "%d-%d", &maj, &mi); err == nil {
				n := get(mod)
				n.Block, n.Major, n.Minor, n.ok = kind == "block-major-", maj, mi, true
			}
		}
	}
	var out []Node
	for _, n := range nodes {
		if n.name != "" && n.ok {
			n.Node.Name = n.name
			out = append(out, n.Node)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// validNodeName reports whether name is a clean relative path without "..".
func validNodeName(name string) bool {
	return name != "" && path.Clean("/"+name) == "/"+name && !strings.Contains(name, "..")
}
