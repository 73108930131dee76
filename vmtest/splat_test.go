package vmtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFindSplatsRecorded classifies real kernel error reports: excerpts from
// public reports (testdata/splats/README.md) and boots recorded here.
func TestFindSplatsRecorded(t *testing.T) {
	tests := []struct {
		file  string
		kinds []SplatKind
		fatal bool   // of the first splat
		line  string // first line of the first splat
	}{
		{"splats/oops-null.log", []SplatKind{SplatOops}, true, "BUG: kernel NULL pointer dereference, address: 00000000000002d0"},
		{"splats/oops-null-old.log", []SplatKind{SplatOops}, true, "BUG: unable to handle kernel NULL pointer dereference at 000000000000000a"},
		{"splats/gpf.log", []SplatKind{SplatOops}, true, "general protection fault, probably for non-canonical address 0x25b5f6bb1a24827e: 0000 [#1] SMP NOPTI"},
		{"splats/kasan.log", []SplatKind{SplatKASAN}, false, "BUG: KASAN: slab-use-after-free in kernfs_test_super (fs/kernfs/mount.c:286)"},
		{"splats/kfence.log", []SplatKind{SplatKFENCE}, false, "BUG: KFENCE: out-of-bounds read in test_out_of_bounds_read+0xa6/0x234"},
		{"splats/ubsan.log", []SplatKind{SplatUBSAN}, false, "UBSAN: array-index-out-of-bounds in /root/projects/tbs6909-drivers/media_build/v4l/mxl58x.c:1031:22"},
		{"splats/hung-task.log", []SplatKind{SplatHungTask}, false, "INFO: task kworker/2:1:5747 blocked for more than 120 seconds."},
		{"splats/hard-lockup.log", []SplatKind{SplatLockup}, true, "NMI watchdog: Watchdog detected hard LOCKUP on cpu 1"},
		{"splats/user-faults.log", nil, false, ""},
		{"panic-sysrq/console.log", []SplatKind{SplatPanic}, true, "Kernel panic - not syncing: sysrq triggered crash"},
		{"softlockup/console.log", []SplatKind{SplatRCUStall, SplatLockup, SplatPanic}, false, "rcu: INFO: rcu_preempt self-detected stall on CPU"},
		{"warn/console.log", []SplatKind{SplatWarning}, false, "WARNING: CPU: 0 PID: 90 at kernel/sched/debug.c:1076 resched_latency_warn+0x54/0x60"},
		{"hung/console.log", []SplatKind{SplatHungTask, SplatHungTask, SplatHungTask}, false, "INFO: task fault:97 blocked for more than 1 seconds."},
		{"clean/console.log", nil, false, ""},
		{"oom/console.log", nil, false, ""},
		{"segv/console.log", nil, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			console, err := os.ReadFile(filepath.Join("testdata", tt.file))
			require.NoError(t, err)
			splats := FindSplats(console)
			var kinds []SplatKind
			for _, s := range splats {
				kinds = append(kinds, s.Kind)
			}
			require.Equal(t, tt.kinds, kinds)
			if len(splats) == 0 {
				require.Nil(t, FindSplat(console))
				return
			}
			require.Equal(t, tt.fatal, splats[0].Fatal)
			require.Equal(t, tt.line, splats[0].Line)
			require.Contains(t, splats[0].Trace, tt.line)
		})
	}
}

// Formats that only newer kernels print, and the splats' prefixes.
func TestFindSplatsFormats(t *testing.T) {
	tests := []struct {
		line  string
		kind  SplatKind
		fatal bool
	}{
		{"[   10.1] Oops: general protection fault, probably for non-canonical address 0xdffffc0000000000: 0000 [#1] PREEMPT SMP KASAN NOPTI", SplatOops, true},
		{"[   10.1] Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI", SplatOops, true},
		{"[   10.1] kernel BUG at mm/slub.c:431!", SplatBug, true},
		{"[   10.1] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [fault:90]", SplatLockup, true},
		{"<3>[   10.1] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:", SplatRCUStall, false},
		{"[   10.1] INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { 0-... } 21 jiffies s: 129 root: 0x1/.", SplatRCUStall, false},
		{"[   10.1] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580", SplatOtherBug, false},
		{"[   10.1] BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 31s!", SplatOtherBug, false},
		{"[   10.1] WARNING: possible circular locking dependency detected", SplatWarning, false},
		{"[   10.1] Kernel panic - not syncing: Hard LOCKUP", SplatPanic, true},
	}
	for _, tt := range tests {
		splats := FindSplats([]byte("[    9.0] before\n" + tt.line + "\n[   11.0] after\n"))
		require.Len(t, splats, 1, tt.line)
		require.Equal(t, tt.kind, splats[0].Kind, tt.line)
		require.Equal(t, tt.fatal, splats[0].Fatal, tt.line)
	}
}

// TestKernelBugNamed: a UBSAN report whose console shows only its first
// lines (the quiet log level) keeps the call trace of the kernel log dump,
// and the reason names the kernel source without the build directory.
func TestKernelBugNamed(t *testing.T) {
	console := []byte("corematrix: guest init started\n" +
		"[  112.008605] UBSAN: shift-out-of-bounds in /build/reproducible-path/linux-7.3.4/kernel/bpf/inode.c:756:15\n" +
		"[  112.009023] shift exponent 65536 is too large for 64-bit type 'long long unsigned int'\n" +
		"[  112.823450] reboot: Power down\n")
	kmsg := []byte("<3>[  112.008605] UBSAN: shift-out-of-bounds in /build/reproducible-path/linux-7.3.4/kernel/bpf/inode.c:756:15\n" +
		"<3>[  112.009023] shift exponent 65536 is too large for 64-bit type 'long long unsigned int'\n" +
		"<4>[  112.009525] CPU: 0 UID: 0 PID: 127 Comm: btf.test Not tainted 7.3.4+deb13-cloud-amd64 #1 PREEMPT(lazy)\n" +
		"<4>[  112.009994] Call Trace:\n<4>[  112.010797]  <TASK>\n<4>[  112.011529]  ubsan_epilogue+0x5/0x2b\n" +
		"<4>[  112.012265]  seq_print_delegate_opts.cold+0x14/0x1b\n<4>[  112.012401]  bpf_show_options+0xe6/0x200\n" +
		"<4>[  112.012835]  show_mountinfo+0x20b/0x290\n<4>[  112.013418]  </TASK>\n")
	splats := findSplats(console, kmsg)
	require.Len(t, splats, 1, "one report, seen on the console and in the dump")
	require.Contains(t, splats[0].Trace, "bpf_show_options", "the dump's call trace")
	require.Equal(t, "UBSAN: shift-out-of-bounds in kernel/bpf/inode.c:756:15", shortSource(splats[0].Line))
	require.Equal(t, "WARNING: CPU: 0 PID: 90 at kernel/sched/debug.c:1076 x", shortSource("WARNING: CPU: 0 PID: 90 at kernel/sched/debug.c:1076 x"))
}
