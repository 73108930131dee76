package guest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKernelParamRoundTrip(t *testing.T) {
	for _, name := range []string{"6.1", "/path with spaces/vmlinuz", "oci:ghcr.io/cilium/ci-kernels:5.4", "latest", ""} {
		cmdline := "console=ttyS0 panic=-1 " + EncodeKernelParam(name) + " rdinit=/init"
		require.Equal(t, name, DecodeKernelParam(cmdline), "cmdline %q", cmdline)
	}
	require.Equal(t, "", DecodeKernelParam("console=ttyS0 corematrix.kernel=zz"), "invalid hex")
}

func TestEnviron(t *testing.T) {
	env := Environ("6.1", Config{Env: []string{"FOO=bar", "CM_KERNEL=override"}})
	require.Contains(t, env, "CM_VMTEST=1")
	require.Contains(t, env, "CM_KERNEL=6.1")
	require.Contains(t, env, "CM_FACTS=/run/corematrix/facts.json")
	require.Equal(t, []string{"FOO=bar", "CM_KERNEL=override"}, env[len(env)-2:], "user variables come last and win")
}

func TestConfigRoundTrip(t *testing.T) {
	for _, c := range []Config{
		{Args: []string{"/corematrix/bin/harness.test", "-test.v=test2json", "-test.run", "^TestX$"}},
		{
			Args:         []string{"/corematrix/bin/p", "arg with spaces", "quote \" and \\ backslash", "new\nline", "", "ünïcode \x00\xff"},
			Env:          []string{"A=1", "B=two words", "EMPTY="},
			Dir:          "/src/pkg dir",
			MakeDirs:     []string{"/tmp/out"},
			CollectFiles: []string{"/src/c.out", "/tmp/x"},
			CollectDirs:  []string{"/tmp/cover"},
			Shell:        &Shell{OnFail: true, Term: "xterm-256color", Rows: 40, Cols: 120},
		},
		{Shell: &Shell{}},
	} {
		got, err := ParseConfig(c.Encode())
		require.NoError(t, err, "config:\n%s", c.Encode())
		require.Equal(t, c, got, "config:\n%s", c.Encode())
	}
}

func TestParseConfigRefusesWhatEncodeNeverWrites(t *testing.T) {
	for name, in := range map[string]string{
		"no header":            `arg "/p"`,
		"json":                 `{"args":["/p"]}`,
		"unquoted value":       configHeader + "\narg /p\n",
		"unknown key":          configHeader + "\nargs \"/p\"\n",
		"shell setting alone":  configHeader + "\nshell.rows \"24\"\n",
		"shell rows not a int": configHeader + "\nshell \"false\"\nshell.rows \"many\"\n",
		"shell not a bool":     configHeader + "\nshell \"maybe\"\n",
	} {
		_, err := ParseConfig([]byte(in))
		require.Error(t, err, "%s: %q", name, in)
	}
}

func TestShareRoundTrip(t *testing.T) {
	s := Share{FSType: "virtiofs", Modules: 3,
		Mounts:     []Mount{{Tag: "cm-root", Sub: "cm-0", Path: "/usr", Overlay: true}, {Tag: "cm-modules", Path: "/lib/modules"}},
		Links:      []Link{{Path: "/bin", Target: "usr/bin"}},
		Env:        []string{"GOROOT=/usr/local/go", "X=a \"quoted\" value"},
		PathAppend: []string{"/usr/local/go/bin"},
		Nodes:      []Node{{Name: "fuse", Major: 10, Minor: 229}, {Name: "net/tun", Major: 10, Minor: 200}, {Name: "nbd0", Block: true, Major: 43}}}
	got, err := ParseShare(s.Encode())
	require.NoError(t, err)
	require.Equal(t, s, got)
	for _, bad := range []string{
		"corematrix-share v0\nfstype \"9p\"\n",
		shareHeader + "\nfstype \"ext4\"\n",
		shareHeader + "\nfstype \"9p\"\nmount \"a\" \"\" \"/b\"\n",
		shareHeader + "\nfstype \"9p\"\nunknown \"x\"\n",
		shareHeader + "\nfstype \"9p\"\nmodules \"x\"\n",
		shareHeader + "\nfstype \"9p\"\nlink /bin usr/bin\n",
		shareHeader + "\nfstype \"9p\"\nnode \"../x\" \"c\" \"1\" \"2\"\n",
		shareHeader + "\nfstype \"9p\"\nnode \"x\" \"p\" \"1\" \"2\"\n",
		shareHeader + "\nfstype \"9p\"\nnode \"x\" \"c\" \"-1\" \"2\"\n",
		shareHeader + "\nfstype \"9p\"\nnode \"x\" \"c\" \"1\" \"4294967296\"\n",
	} {
		_, err := ParseShare([]byte(bad))
		require.Error(t, err, "%q", bad)
	}
}

func TestCoveredPoints(t *testing.T) {
	links := []Link{{Path: "/lib", Target: "usr/lib"}, {Path: "/bin", Target: "/usr/bin"}}
	require.Equal(t, "/usr/lib/modules", resolveLinks("/lib/modules", links))
	require.Equal(t, "/usr/bin/x", resolveLinks("/bin/x", links))
	require.Equal(t, "/libx/y", resolveLinks("/libx/y", links), "a prefix of a name is no link")
	usr := Mount{Tag: "cm-root", Sub: "cm-1", Path: "/usr", Overlay: true}
	src := Mount{Tag: "cm-root", Sub: "cm-2", Path: "/work/src", Overlay: true}
	s := Share{Links: links, Mounts: []Mount{
		usr, src,
		{Tag: "cm-root", Sub: "cm-modules", Path: "/lib/modules"},
		{Tag: "cm-root", Sub: "cm-x", Path: "/work/src/sub/ro"},
		{Tag: "cm-root", Sub: "cm-y", Path: "/opt/ro"}, // under no overlay
	}}
	require.Equal(t, []covered{{Overlay: usr, Rel: "lib/modules"}, {Overlay: src, Rel: "sub/ro"}}, s.coveredPoints())
}
