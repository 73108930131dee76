package report

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/corematrix/corematrix/kernel"
)

// Fixtures: runs shaped like real corematrix runs of the harness suite.

var t0 = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

func passTests(names ...string) []TestResult {
	var ts []TestResult
	for i, n := range names {
		ts = append(ts, TestResult{Name: n, Status: "pass", Elapsed: 0.25 * float64(i+1)})
	}
	return ts
}

var suite = []string{"TestConnect", "TestConnect/ipv4", "TestConnect/ipv6", "TestExec", "TestExit", "TestOpen"}

func debianKernel(name, version, release string) kernel.Kernel {
	return kernel.Kernel{
		Name:    name,
		Version: version,
		Release: release,
		Source:  "debian:" + map[string]string{"5.10": "bullseye", "6.1": "bookworm", "6.12": "trixie"}[name] + "/linux-image-" + release,
		SHA256:  strings.Repeat("ab", 32),
	}
}

// allPassRun: three kernels, given out of order, every test passes.
func allPassRun() Summary {
	k := func(name, version, release string, boot float64) KernelResult {
		return KernelResult{
			Kernel:   debianKernel(name, version, release),
			Accel:    "tcg",
			Outcome:  Pass,
			Reason:   fmt.Sprintf("%d tests passed", len(suite)-1), // TestConnect counts through its two subtests
			ExitCode: 0,
			Timings:  Timings{Boot: boot, Payload: 12.5, Total: boot + 13.1},
			Tests:    passTests(suite...),
			Facts:    &Facts{Branches: branches("start_boottime", map[bool]string{true: "state", false: "__state"}[name == "5.10"]), Programs: programs(1, true)},
			Prediction: &Prediction{Programs: map[string]bool{
				"handle_exec": true, "handle_exit": true, "kprobe_tcp_v4_connect": true, "handle_openat": true,
			}},
		}
	}
	return Summary{
		Started:  t0,
		Finished: t0.Add(95 * time.Second),
		Payload:  "harness.test -test.v",
		Kernels: []KernelResult{
			k("6.12", "6.12.57-1", "6.12.57+deb13-cloud-amd64", 3.4),
			k("5.10", "5.10.244-1", "5.10.0-36-cloud-amd64", 2.9),
			k("6.1", "6.1.158-1", "6.1.0-41-cloud-amd64", 3.1),
		},
	}
}

// failingOutput is a testify failure 30 lines long, with a pipe, HTML and a
// code fence in it, so truncation and escaping show.
func failingOutput() string {
	var b strings.Builder
	b.WriteString("=== RUN   TestConnect/ipv6\n")
	b.WriteString("    connect_test.go:88: \n")
	b.WriteString("        \tError Trace:\t/src/harness/connect_test.go:88\n")
	b.WriteString("        \tError:      \tNot equal: \n")
	b.WriteString("        \t            \texpected: \"::1\"\n")
	b.WriteString("        \t            \tactual  : \"::\" | <nil>\n")
	b.WriteString("        \tMessages:   \tdaddr of event ```x```\n")
	for i := 1; i <= 22; i++ {
		fmt.Fprintf(&b, "    connect_test.go:90: event %d: family=10 dport=%d\n", i, 40000+i)
	}
	b.WriteString("--- FAIL: TestConnect/ipv6 (0.12s)\n")
	return b.String()
}

const panicTrace = `[    4.120000] sysrq: Trigger a crash
[    4.120100] Kernel panic - not syncing: sysrq triggered crash
[    4.120200] CPU: 0 PID: 61 Comm: harness.test Not tainted 6.1.0-41-cloud-amd64 #1  Debian 6.1.158-1
[    4.120300] Call Trace:
[    4.120400]  <TASK>
[    4.120500]  dump_stack_lvl+0x44/0x5c
[    4.120600]  panic+0x118/0x2ed
[    4.120700]  </TASK>`

// mixedRun: one kernel of every outcome.
func mixedRun() Summary {
	connectFail := []TestResult{
		{Name: "TestConnect", Status: "fail", Elapsed: 0.3, Output: "=== RUN   TestConnect\n--- FAIL: TestConnect (0.30s)\n"},
		{Name: "TestConnect/ipv4", Status: "pass", Elapsed: 0.1},
		{Name: "TestConnect/ipv6", Status: "fail", Elapsed: 0.12, Output: failingOutput()},
		{Name: "TestExec", Status: "pass", Elapsed: 0.5},
		{Name: "TestExit", Status: "pass", Elapsed: 0.2},
		{Name: "TestOpen", Status: "skip", Elapsed: 0, Output: "=== RUN   TestOpen\n    open_test.go:20: openat tracepoint needs CONFIG_FTRACE_SYSCALLS\n--- SKIP: TestOpen (0.00s)\n"},
	}
	skipped := []TestResult{}
	for _, n := range suite {
		skipped = append(skipped, TestResult{Name: n, Status: "skip", Output: "--- SKIP: " + n + " (0.00s)\n    harness_test.go:30: no kprobes on this kernel\n"})
	}
	return Summary{
		Started:  t0,
		Finished: t0.Add(11*time.Minute + 3*time.Second),
		Payload:  "harness.test -test.v",
		Kernels: []KernelResult{
			{
				Kernel: debianKernel("6.1", "6.1.158-1", "6.1.0-41-cloud-amd64"), Accel: "tcg",
				Outcome: Panic, Reason: "Kernel panic - not syncing: sysrq triggered crash", ExitCode: -1,
				Timings: Timings{Boot: 3.1, Payload: 1.0, Total: 4.6},
				Trace:   panicTrace,
				Tests:   passTests("TestExec"),
			},
			{
				Kernel: debianKernel("5.10", "5.10.244-1", "5.10.0-36-cloud-amd64"), Accel: "tcg",
				Outcome: Fail, Reason: "1 of 5 tests failed", ExitCode: 1,
				Timings: Timings{Boot: 2.9, Payload: 8.0, Total: 11.3},
				Tests:   connectFail,
			},
			{
				Kernel: debianKernel("6.12", "6.12.57-1", "6.12.57+deb13-cloud-amd64"), Accel: "tcg",
				Outcome: Timeout, Reason: "no result after 10m0s; QEMU killed", ExitCode: -1,
				Timings: Timings{Boot: 3.3, Payload: 596.7, Total: 600},
				Tests:   passTests("TestConnect", "TestConnect/ipv4", "TestConnect/ipv6"),
			},
			{
				Kernel:  kernel.Kernel{Name: "/tmp/k/vmlinuz-broken", Source: "local"},
				Accel:   "tcg",
				Outcome: BootFailure, Reason: "guest init never spoke within 60s (console: \"Kernel panic\" not seen; last line: VFS: Unable to mount root fs | on unknown-block(0,0))", ExitCode: -1,
				Timings: Timings{Total: 60},
			},
			{
				Kernel:  kernel.Kernel{Name: "5.15"},
				Outcome: Unavailable, Reason: "no image for 5.15: the Debian archive serves no 5.15 line and oci:ghcr.io/cilium/ci-kernels:5.15 is unreachable; pass a local bzImage path instead", ExitCode: -1,
			},
			{
				Kernel: kernel.Kernel{Name: "oci:ghcr.io/cilium/ci-kernels:5.4", Version: "5.4.300", Release: "5.4.300", Source: "oci:ghcr.io/cilium/ci-kernels:5.4"}, Accel: "tcg",
				Outcome: Skip, Reason: "every test skipped", ExitCode: 0,
				Timings: Timings{Boot: 2.2, Payload: 0.4, Total: 2.9},
				Tests:   skipped,
			},
			{
				Kernel:  kernel.Kernel{Name: "latest", Version: "7.3.1-1"},
				Outcome: InfraError, Reason: "start qemu: exec: \"qemu-system-x86_64\": executable file not found in $PATH", ExitCode: -1,
				Timings: Timings{Total: 0.01},
			},
		},
	}
}

func branches(startTime, state string) []Branch {
	return []Branch{
		{Group: "start_time", Name: "start_boottime", Needs: "kernel >= 5.5", Taken: startTime == "start_boottime"},
		{Group: "start_time", Name: "real_start_time", Needs: "kernel < 5.5", Taken: startTime == "real_start_time"},
		{Group: "task_state", Name: "__state", Needs: "kernel >= 5.14", Taken: state == "__state"},
		{Group: "task_state", Name: "state", Needs: "kernel < 5.14", Taken: state == "state"},
		{Group: "events", Name: "ringbuf", Needs: "kernel >= 5.8", Taken: true},
		{Group: "events", Name: "perf", Needs: "kernel < 5.8 (or forced)", Taken: false},
	}
}

func programs(scale uint32, openLoaded bool) []ProgramStat {
	ps := []ProgramStat{
		{Name: "handle_exec", Loaded: true, VerifiedInsns: 310 * scale, LoadMillis: 2.5 * float64(scale)},
		{Name: "handle_exit", Loaded: true, VerifiedInsns: 120 * scale, LoadMillis: 1.25},
		{Name: "kprobe_tcp_v4_connect", Loaded: true, VerifiedInsns: 41, LoadMillis: 0.75},
		{Name: "handle_openat", Loaded: openLoaded, VerifiedInsns: 95 * scale, LoadMillis: 1.5},
	}
	if !openLoaded {
		ps[3] = ProgramStat{Name: "handle_openat", Loaded: false, Error: "load program: bad CO-RE relocation: invalid func unknown#195896080\n(12 line(s) omitted)"}
	}
	return ps
}

// factsRun: kernels with CO-RE branches, verifier stats and an offline
// prediction, one of which the real load contradicts.
func factsRun() Summary {
	all := map[string]bool{"handle_exec": true, "handle_exit": true, "kprobe_tcp_v4_connect": true, "handle_openat": true}
	withOpen := func(ok bool, reason string) *Prediction {
		p := &Prediction{Programs: map[string]bool{}}
		maps.Copy(p.Programs, all)
		p.Programs["handle_openat"] = ok
		if reason != "" {
			p.Reasons = map[string]string{"handle_openat": reason}
		}
		return p
	}
	k612pred := withOpen(false, "poisoned relocation file.f_path (byte_off) is not guarded")
	k612pred.Programs["handle_fork"] = true
	return Summary{
		Started:  t0,
		Finished: t0.Add(2*time.Minute + 7*time.Second),
		Payload:  "harness.test -test.v",
		Kernels: []KernelResult{
			{
				Kernel: debianKernel("6.12", "6.12.57-1", "6.12.57+deb13-cloud-amd64"), Accel: "tcg",
				Outcome: Fail, Reason: "1 of 5 tests failed", ExitCode: 1,
				Timings: Timings{Boot: 3.4, Payload: 14, Total: 18},
				Tests: append(passTests("TestConnect", "TestConnect/ipv4", "TestConnect/ipv6", "TestExec", "TestExit"),
					TestResult{Name: "TestOpen", Status: "fail", Elapsed: 0.01, Output: "=== RUN   TestOpen\n    open_test.go:31: load handle_openat: bad CO-RE relocation\n--- FAIL: TestOpen (0.01s)\n"}),
				Facts:      &Facts{Branches: branches("start_boottime", "__state"), Programs: programs(3, false)},
				Prediction: k612pred,
			},
			{
				Kernel: debianKernel("5.10", "5.10.244-1", "5.10.0-36-cloud-amd64"), Accel: "tcg",
				Outcome: Pass, Reason: "5 tests passed", ExitCode: 0,
				Timings:    Timings{Boot: 2.9, Payload: 12, Total: 15.5},
				Tests:      passTests(suite...),
				Facts:      &Facts{Branches: branches("start_boottime", "state"), Programs: programs(1, true)},
				Prediction: withOpen(true, ""),
			},
			{
				Kernel: debianKernel("6.1", "6.1.158-1", "6.1.0-41-cloud-amd64"), Accel: "tcg",
				Outcome: Pass, Reason: "5 tests passed", ExitCode: 0,
				Timings:    Timings{Boot: 3.1, Payload: 13, Total: 16.7},
				Tests:      passTests(suite...),
				Facts:      &Facts{Branches: branches("start_boottime", "__state"), Programs: programs(2, true)},
				Prediction: withOpen(false, "poisoned relocation file.f_path (byte_off) is not guarded"),
			},
			{
				Kernel: kernel.Kernel{Name: "oci:ghcr.io/cilium/ci-kernels:5.4", Source: "oci:ghcr.io/cilium/ci-kernels:5.4"}, Accel: "tcg",
				Outcome: Panic, Reason: "BUG: kernel NULL pointer dereference, address: 0000000000000008", ExitCode: -1,
				Timings:    Timings{Boot: 2.4, Payload: 0.3, Total: 3},
				Trace:      "[    2.700000] BUG: kernel NULL pointer dereference, address: 0000000000000008\n[    2.700100] RIP: 0010:bpf_prog_run+0x1/0x10",
				Prediction: withOpen(true, ""),
			},
		},
	}
}
