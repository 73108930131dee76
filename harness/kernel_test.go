package harness

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKernelBranchesAgree checks that the kernel's version and its own BTF
// demand the same CO-RE branches. A disagreement means one of the two
// derivations (or the kernel's backports) is not what the suite assumes, and
// every fallback assertion after it would be meaningless.
func TestKernelBranchesAgree(t *testing.T) {
	need(t)
	require.NoError(t, kernel.BTFError, "kernel %s: no usable BTF", kernel.Release)
	require.Equal(t, kernel.Expect, kernel.BTF,
		"kernel %s: version %v expects %v, BTF says %v", kernel.Release, kernel.Version, kernel.Expect, kernel.BTF)
}
