package harness

import "github.com/corematrix/corematrix/probes"

// Expected Core bits on this kernel, from its version (TestKernelBranchesAgree
// holds the version and the BTF to the same answer).

func outputBit(m mode) probes.Core {
	if m.perf || !kernel.Expect.RingBuf {
		return probes.CorePerfbuf
	}
	return probes.CoreRingbuf
}

func startBit() probes.Core {
	if kernel.Expect.StartBoottime {
		return probes.CoreStartBoottime
	}
	return probes.CoreRealStartTime
}

func stateBit() probes.Core {
	if kernel.Expect.StateNew {
		return probes.CoreStateU32
	}
	return probes.CoreStateLong
}

// wantCore is the exact Core mask an event of kind k must carry in mode m.
func wantCore(m mode, k probes.Kind) probes.Core {
	c := outputBit(m)
	switch k {
	case probes.KindExec:
		c |= startBit()
	case probes.KindSched:
		c |= stateBit()
	}
	return c
}
