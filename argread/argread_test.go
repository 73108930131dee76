package argread

import (
	"fmt"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels/kerneltest"
	"github.com/corematrix/corematrix/probes"
)

func brief(rs []Read) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %s %s %s via %s", r.Program, r.Attach, r.Target, r.Label(), r.Via))
	}
	return out
}

// The tracer's kprobes read their arguments with PT_REGS_PARMn over a pt_regs
// without CO-RE: plain context loads.
func TestTracerReads(t *testing.T) {
	spec, err := probes.Spec()
	require.NoError(t, err)
	rs, err := Reads(spec)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"connect4_entry kprobe tcp_v4_connect arg 1 via ctx+112 (di)",
		"connect4_return kretprobe tcp_v4_connect return via ctx+80 (ax)",
		"connect6_entry kprobe tcp_v6_connect arg 1 via ctx+112 (di)",
		"connect6_return kretprobe tcp_v6_connect return via ctx+80 (ax)",
		"trace_exit kprobe do_exit arg 1 via ctx+112 (di)",
		"trace_open kprobe vfs_open arg 1 via ctx+112 (di)",
	}, brief(rs))
}

func kernelsNamed(t *testing.T, names ...string) []KernelBTF {
	t.Helper()
	var out []KernelBTF
	for _, n := range names {
		out = append(out, KernelBTF{Kernel: kernel.Kernel{Name: n}, BTF: kerneltest.BTF(t, n)})
	}
	return out
}

func verdicts(fs []Finding) map[string]Verdict {
	out := map[string]Verdict{}
	for _, f := range fs {
		out[f.Program+" "+f.Label()] = f.Verdict
	}
	return out
}

// TestCheckTestObject runs the drift check over testdata/args.o (see args.c)
// and the cached 5.10, 6.1 and 6.12 kernels.
func TestCheckTestObject(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec("testdata/args.o")
	require.NoError(t, err)
	fs, err := Check(spec, kernelsNamed(t, "5.10", "6.1", "6.12"))
	require.NoError(t, err)
	assert.Equal(t, map[string]Verdict{
		"core_drift arg 2":     Drift,
		"coreread_drift arg 2": Drift,
		"syscall_inner arg 1":  Stable,
		"plain_drift arg 2":    Drift,
		"fentry_drift arg 2":   Drift,
		"fexit_drift arg 4":    Drift,
		"guarded arg 2":        Guarded,
		"guarded arg 3":        Guarded,
		"stable arg 1":         Stable,
		"missing arg 1":        Unknown,
	}, verdicts(fs))
	for _, f := range fs {
		switch f.Program {
		case "core_drift":
			assert.Equal(t, "struct dentry * (arg 2) on 5.10; struct inode * (arg 2) on 6.1, 6.12", f.Detail)
			assert.Equal(t, "int vfs_unlink(struct inode *dir, struct dentry *dentry, struct inode **delegated_inode)", f.Cells[0].Proto)
			assert.Contains(t, f.Cells[1].Proto, "(struct user_namespace *mnt_userns, struct inode *dir,")
		case "fexit_drift":
			assert.Equal(t, "int (return) on 5.10; struct inode ** (arg 4) on 6.1, 6.12", f.Detail)
		case "guarded":
			live := map[string]State{}
			for _, c := range f.Cells {
				live[c.Kernel] = c.State
			}
			if f.Position == 2 {
				assert.Equal(t, map[string]State{"5.10": Running, "6.1": Dead, "6.12": Dead}, live)
			} else {
				assert.Equal(t, map[string]State{"5.10": Dead, "6.1": Running, "6.12": Running}, live)
			}
		case "missing":
			assert.Equal(t, "corematrix_no_such_function not in the BTF of 5.10, 6.1, 6.12 (absent or inlined)", f.Detail)
		}
	}
}

// A guard that picks the wrong argument on some kernel is drift even though
// each of its reads runs on one side only.
func TestJudgeWrongGuard(t *testing.T) {
	cell := func(k string, st State, label, typ string) Cell {
		return Cell{Kernel: k, State: st, Label: label, Type: typ}
	}
	all := []Finding{
		{Read: Read{Program: "p", Position: 2}, Cells: []Cell{cell("5.10", Dead, "", ""), cell("6.1", Running, "arg 2", "struct inode *")}},
		{Read: Read{Program: "p", Position: 3}, Cells: []Cell{cell("5.10", Running, "arg 3", "struct inode **"), cell("6.1", Dead, "", "")}},
	}
	for i := range all {
		judge(&all[i], all)
		assert.Equal(t, Drift, all[i].Verdict)
		assert.Equal(t, "the kernel-guarded choice reads struct inode ** on 5.10; struct inode * on 6.1", all[i].Detail)
	}
}

// The tracer's own targets keep their argument types on every kernel of the
// default matrix.
func TestCheckProbes(t *testing.T) {
	spec, err := probes.Spec()
	require.NoError(t, err)
	fs, err := Check(spec, kernelsNamed(t, "5.10", "6.1", "6.12", "6.18", "latest"))
	require.NoError(t, err)
	require.NotEmpty(t, fs)
	for _, f := range fs {
		assert.Equal(t, Stable, f.Verdict, "%s %s %s: %s", f.Program, f.Target, f.Label(), f.Detail)
	}
}

// A read past the last parameter on every kernel reads no argument: not
// stable, whatever the kernels agree on.
func TestJudgePastLastParameter(t *testing.T) {
	f := Finding{Read: Read{Program: "p", Target: "do_exit", Position: 3}, Cells: []Cell{
		{Kernel: "5.10", State: NoParam, Label: "arg 3"}, {Kernel: "6.1", State: NoParam, Label: "arg 3"}}}
	judge(&f, []Finding{f})
	assert.Equal(t, Unknown, f.Verdict)
	assert.Equal(t, "reads arg 3, but do_exit has fewer parameters on every kernel: the register holds no argument", f.Detail)
}

// The context is followed through moves and jumps, and lost on calls and
// overwrites.
func TestProgramReadsFollowContext(t *testing.T) {
	jump := asm.JEq.Imm(asm.R3, 0, "")
	jump.Offset = 3 // to the load of cx, reachable only through the jump
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),                 // r6 = ctx
		asm.FnGetCurrentPidTgid.Call(),              // clobbers r1-r5
		asm.LoadMem(asm.R2, asm.R1, 112, asm.DWord), // r1 is no longer ctx: not a read
		asm.LoadMem(asm.R3, asm.R6, 104, asm.DWord), // ctx->si: arg 2
		jump,
		asm.LoadMem(asm.R4, asm.R6, 96, asm.Word), // low half of ctx->dx: arg 3
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
		asm.LoadMem(asm.R5, asm.R6, 88, asm.DWord), // ctx->cx: arg 4
		asm.Mov.Imm(asm.R6, 0),                     // r6 overwritten
		asm.LoadMem(asm.R0, asm.R6, 64, asm.DWord), // not ctx: not a read
		asm.Return(),
	}
	p := &ebpf.ProgramSpec{Name: "p", Type: ebpf.Kprobe, SectionName: "kprobe/f+0x10", AttachTo: "f+0x10", Instructions: insns}
	rs, err := ProgramReads(p, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"p kprobe f arg 2 via ctx+104 (si)",
		"p kprobe f arg 3 via ctx+96 (dx)",
		"p kprobe f arg 4 via ctx+88 (cx)",
	}, brief(rs))
}
