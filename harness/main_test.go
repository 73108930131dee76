package harness

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"
	"github.com/corematrix/corematrix/harness/ground"
)

// skipReason is why this host cannot run the suite; "" inside a guest or on a
// host that can trace.
var skipReason string

// kernel is what the suite knows about the running kernel before loading any
// probe.
var kernel struct {
	Release  string
	Version  ground.Version
	Expect   ground.Expect // from the version
	BTF      ground.Expect // from /sys/kernel/btf/vmlinux
	BTFError error
	// Types is the kernel's BTF, parsed once and shared by every load of
	// the suite (each fresh parse rebuilds its name index for CO-RE, a
	// large part of a load's cost under TCG).
	Types *btf.Cache
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	start := time.Now()
	if ground.InVM() {
		if os.Getenv("GOMAXPROCS") == "" {
			// One P: the guest's vCPUs usually take turns on one host
			// thread (TCG, thread=single), so a second P runs nothing
			// in parallel but costs a cross-CPU wakeup (futex, IPI)
			// each time a goroutine hands work to another, as the event
			// collector and the waiting test do per event. The guest
			// kernel still has every vCPU: children and BPF programs
			// run on any of them.
			runtime.GOMAXPROCS(1)
		}
		if err := ground.PrepareGuest(); err != nil {
			// Not fatal here: the tests that need what is missing fail with it.
			fmt.Fprintf(os.Stderr, "harness: prepare guest: %v\n", err)
		}
	} else if skipReason = ground.TracingUnavailable(); skipReason != "" {
		fmt.Fprintf(os.Stderr, "harness: every test skips: %s (set CM_VMTEST=1 only inside a vmtest guest)\n", skipReason)
		return m.Run()
	}
	v, rel, err := ground.RunningVersion()
	if err != nil {
		fmt.Fprintf(os.Stderr, "harness: %v\n", err)
		return 1
	}
	kernel.Release, kernel.Version = rel, v
	kernel.Expect = ground.ExpectFromVersion(v)
	kernel.Types = btf.NewCache()
	if spec, err := kernel.Types.Kernel(); err != nil {
		kernel.BTFError = fmt.Errorf("load kernel btf: %w", err)
	} else {
		kernel.BTF, kernel.BTFError = ground.ExpectFromBTF(spec)
	}
	fmt.Fprintf(os.Stderr, "harness: kernel %s: version expects %v\n", rel, kernel.Expect)
	tests := time.Now()
	code := m.Run()
	teardown := time.Now()
	recordBranches()
	closeSessions()
	for _, f := range cleanups {
		f()
	}
	// Where the payload's time went, for the benchmark's breakdown.
	fmt.Fprintf(os.Stderr, "harness: setup %v, tests %v, teardown %v\n", tests.Sub(start).Round(time.Millisecond),
		teardown.Sub(tests).Round(time.Millisecond), time.Since(teardown).Round(time.Millisecond))
	if err := writeFacts(); err != nil {
		fmt.Fprintf(os.Stderr, "harness: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// need skips t on a host that cannot trace, always with the same reason.
func need(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}
