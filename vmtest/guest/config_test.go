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
