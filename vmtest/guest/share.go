package guest

import (
	"bytes"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// SharePath is where the host puts a kernel's Share (in the archive it
// appends per kernel); absent means the packed mode.
const SharePath = "/corematrix/share"

// BootModuleDir holds the modules the init loads before mounting, named
// 00.ko, 01.ko, ... in load order.
const BootModuleDir = "/corematrix/modules"

// ModprobeBin is the modprobe the guest uses when its kernel's modules are
// mounted: busybox's (it reads the text modules.dep the host generated).
const ModprobeBin = PayloadDir + "/modprobe"

// Share tells the init what to mount: the host's exports, read-only under
// a tmpfs overlay, at the same paths.
type Share struct {
	// FSType is "virtiofs" or "9p".
	FSType string
	// Modules is how many boot modules BootModuleDir holds.
	Modules int
	Mounts  []Mount
	Links   []Link
	// Env and PathAppend complete the payload's environment.
	Env        []string
	PathAppend []string
	// Nodes are made under /dev when the kernel's modules are mounted:
	// opening one loads its module (the host reads them from the
	// modules.alias it generated, see share.StaticNodes).
	Nodes []Node
}

// Node is a device node /dev/Name.
type Node struct {
	Name         string
	Block        bool
	Major, Minor uint32
}

// Mount is one export: the directory Sub of device Tag ("" for the whole
// device) at Path.
type Mount struct {
	Tag, Sub, Path string
	// Overlay puts a tmpfs overlay on it; without one it stays read-only.
	Overlay bool
}

// Link is a symbolic link made at Path (replacing what the initramfs has).
type Link struct{ Path, Target string }

// covered is a mount point inside an export with an overlay: the mount
// point of Mount (which has none) at Rel in Overlay's export.
type covered struct {
	Overlay Mount
	Rel     string
}

// coveredPoints returns the mount points of s's mounts without an overlay
// that lie inside a mount with one, the path resolved through s's links
// first (/lib/modules is /usr/lib/modules when /lib -> usr/lib).
func (s Share) coveredPoints() []covered {
	var out []covered
	for _, m := range s.Mounts {
		if m.Overlay {
			continue
		}
		p := resolveLinks(m.Path, s.Links)
		best := -1
		for i, o := range s.Mounts {
			if o.Overlay && strings.HasPrefix(p, strings.TrimSuffix(o.Path, "/")+"/") && (best < 0 || len(o.Path) > len(s.Mounts[best].Path)) {
				best = i
			}
		}
		if best >= 0 {
			o := s.Mounts[best]
			out = append(out, covered{Overlay: o, Rel: strings.TrimPrefix(p, strings.TrimSuffix(o.Path, "/")+"/")})
		}
	}
	return out
}

// resolveLinks returns p with the link of links that a prefix of it is
// replaced by the link's target, relative to the link's directory.
func resolveLinks(p string, links []Link) string {
	for _, l := range links {
		if strings.HasPrefix(p, l.Path+"/") {
			t := l.Target
			if !path.IsAbs(t) {
				t = path.Join(path.Dir(l.Path), t)
			}
			return path.Join(t, strings.TrimPrefix(p, l.Path+"/"))
		}
	}
	return p
}

const shareHeader = "corematrix-share v1"

// Encode returns s in the config file format (see Config.Encode).
func (s Share) Encode() []byte {
	var b bytes.Buffer
	b.WriteString(shareHeader + "\n")
	put := func(key string, vals ...string) {
		fmt.Fprintf(&b, "%s", key)
		for _, v := range vals {
			fmt.Fprintf(&b, " %s", strconv.Quote(v))
		}
		b.WriteString("\n")
	}
	put("fstype", s.FSType)
	put("modules", strconv.Itoa(s.Modules))
	for _, m := range s.Mounts {
		put("mount", m.Tag, m.Sub, m.Path, strconv.FormatBool(m.Overlay))
	}
	for _, l := range s.Links {
		put("link", l.Path, l.Target)
	}
	for _, e := range s.Env {
		put("env", e)
	}
	for _, p := range s.PathAppend {
		put("path", p)
	}
	for _, n := range s.Nodes {
		kind := "c"
		if n.Block {
			kind = "b"
		}
		put("node", n.Name, kind, strconv.FormatUint(uint64(n.Major), 10), strconv.FormatUint(uint64(n.Minor), 10))
	}
	return b.Bytes()
}

// ParseShare decodes what Share.Encode wrote.
func ParseShare(b []byte) (Share, error) {
	var s Share
	lines := strings.Split(string(b), "\n")
	if lines[0] != shareHeader {
		return s, fmt.Errorf("share: first line is %q, want %q", short(lines[0]), shareHeader)
	}
	for i, line := range lines[1:] {
		if line == "" {
			continue
		}
		key, rest, _ := strings.Cut(line, " ")
		var vals []string
		for rest != "" {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return s, fmt.Errorf("share line %d (%s): %q is not a quoted string", i+2, key, short(rest))
			}
			v, _ := strconv.Unquote(q)
			vals = append(vals, v)
			rest = strings.TrimPrefix(rest[len(q):], " ")
		}
		want := map[string]int{"fstype": 1, "modules": 1, "mount": 4, "link": 2, "env": 1, "path": 1, "node": 4}[key]
		if want == 0 {
			return s, fmt.Errorf("share line %d: unknown key %q", i+2, short(key))
		}
		if len(vals) != want {
			return s, fmt.Errorf("share line %d (%s): %d values, want %d", i+2, key, len(vals), want)
		}
		var err error
		switch key {
		case "fstype":
			s.FSType = vals[0]
		case "modules":
			s.Modules, err = strconv.Atoi(vals[0])
		case "mount":
			m := Mount{Tag: vals[0], Sub: vals[1], Path: vals[2]}
			m.Overlay, err = strconv.ParseBool(vals[3])
			s.Mounts = append(s.Mounts, m)
		case "link":
			s.Links = append(s.Links, Link{Path: vals[0], Target: vals[1]})
		case "env":
			s.Env = append(s.Env, vals[0])
		case "path":
			s.PathAppend = append(s.PathAppend, vals[0])
		case "node":
			var n Node
			n, err = parseNode(vals)
			s.Nodes = append(s.Nodes, n)
		}
		if err != nil {
			return s, fmt.Errorf("share line %d (%s): %w", i+2, key, err)
		}
	}
	if s.FSType != "virtiofs" && s.FSType != "9p" {
		return s, fmt.Errorf("share: file system %q is neither virtiofs nor 9p", short(s.FSType))
	}
	return s, nil
}

// parseNode decodes a node line's values: name, c or b, major, minor.
func parseNode(vals []string) (Node, error) {
	n := Node{Name: vals[0], Block: vals[1] == "b"}
	if n.Name == "" || path.Clean("/"+n.Name) != "/"+n.Name || (vals[1] != "c" && vals[1] != "b") {
		return n, fmt.Errorf("bad node %q %q", short(vals[0]), short(vals[1]))
	}
	maj, err := strconv.ParseUint(vals[2], 10, 32)
	if err != nil {
		return n, fmt.Errorf("node major: %w", err)
	}
	mi, err := strconv.ParseUint(vals[3], 10, 32)
	if err != nil {
		return n, fmt.Errorf("node minor: %w", err)
	}
	n.Major, n.Minor = uint32(maj), uint32(mi)
	return n, nil
}

// BootModuleName returns the initramfs path of the i-th boot module.
func BootModuleName(i int) string { return fmt.Sprintf("%s/%02d.ko", BootModuleDir, i) }
