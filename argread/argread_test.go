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
// and the cached 5.10, 6.1 and 6.12 kernels, and over its arm64 build
// (args_arm64.o: arguments in regs[0..7]) and those kernels' arm64 builds.
func TestCheckTestObject(t *testing.T) {
	for _, tc := range []struct{ object, arch string }{
		{"testdata/args.o", ""},
		{"testdata/args_arm64.o", "/arm64"},
	} {
		t.Run(tc.object, func(t *testing.T) { checkTestObject(t, tc.object, tc.arch) })
	}
}

func checkTestObject(t *testing.T, object, arch string) {
	spec, err := ebpf.LoadCollectionSpec(object)
	require.NoError(t, err)
	k510, k61, k612 := "5.10"+arch, "6.1"+arch, "6.12"+arch
	res, err := Check(spec, kernelsNamed(t, k510, k61, k612))
	require.NoError(t, err)
	fs := res.Findings
	assert.Equal(t, map[string]Verdict{
		"core_drift arg 2":     Drift,
		"coreread_drift arg 2": Drift,
		"syscall_inner arg 1":  Stable,
		"plain_drift arg 2":    Drift,
		"fentry_drift arg 2":   Drift,
		"fexit_drift arg 4":    Drift,
		"guarded arg 2":        Selected,
		"guarded arg 3":        Selected,
		"stable arg 1":         Stable,
		"missing arg 1":        Unknown,
	}, verdicts(fs))
	for _, f := range fs {
		switch f.Program {
		case "core_drift":
			assert.Equal(t, "struct dentry * (arg 2) on "+k510+"; struct inode * (arg 2) on "+k61+", "+k612, f.Detail)
			assert.Equal(t, "int vfs_unlink(struct inode *dir, struct dentry *dentry, struct inode **delegated_inode)", f.Cells[0].Proto)
			assert.Contains(t, f.Cells[1].Proto, "(struct user_namespace *mnt_userns, struct inode *dir,")
		case "fexit_drift":
			assert.Equal(t, "int (return) on "+k510+"; struct inode ** (arg 4) on "+k61+", "+k612, f.Detail)
		case "guarded":
			live := map[string]State{}
			for _, c := range f.Cells {
				live[c.Kernel] = c.State
			}
			if f.Position == 2 {
				assert.Equal(t, map[string]State{k510: Running, k61: Dead, k612: Dead}, live)
			} else {
				assert.Equal(t, map[string]State{k510: Dead, k61: Running, k612: Running}, live)
			}
		case "missing":
			assert.Equal(t, "corematrix_no_such_function not in the BTF of "+k510+", "+k61+", "+k612+" (absent or inlined)", f.Detail)
		}
	}
}

// The arm64 build of the test object reads the same arguments through
// arm64's registers: x0..x7 are regs[0..7] at offsets 0..56, and x0 is the
// return value in a kretprobe.
func TestReadsARM64(t *testing.T) {
	for _, tc := range []struct {
		object string
		want   []string
	}{
		{"../probes/tracer_arm64_bpfel.o", []string{
			"connect4_entry kprobe tcp_v4_connect arg 1 via ctx+0 (regs[0])",
			"connect4_return kretprobe tcp_v4_connect return via ctx+0 (regs[0])",
			"connect6_entry kprobe tcp_v6_connect arg 1 via ctx+0 (regs[0])",
			"connect6_return kretprobe tcp_v6_connect return via ctx+0 (regs[0])",
			"trace_exit kprobe do_exit arg 1 via ctx+0 (regs[0])",
			"trace_open kprobe vfs_open arg 1 via ctx+0 (regs[0])",
		}},
		{"testdata/args_arm64.o", []string{
			"core_drift kprobe vfs_unlink arg 2 via user_pt_regs.regs[1] (CO-RE)",
			"coreread_drift kprobe vfs_unlink arg 2 via user_pt_regs.regs[1] (CO-RE) by bpf_probe_read_kernel",
			"fentry_drift fentry vfs_unlink arg 2 via ctx[1]",
			"fexit_drift fexit vfs_unlink arg 4 via ctx[3]",
			"guarded kprobe vfs_unlink arg 3 via ctx+16 (regs[2])",
			"missing kprobe corematrix_no_such_function arg 1 via ctx+0 (regs[0])",
			"plain_drift kprobe vfs_unlink arg 2 via ctx+8 (regs[1])",
			"stable kprobe do_exit arg 1 via ctx+0 (regs[0])",
			// The wrapper's argument 1 is the syscall's pt_regs; the
			// syscall's own arguments read through it are no context read.
			"syscall_inner kprobe __arm64_sys_unlinkat arg 1 via ctx+0 (regs[0])",
		}},
	} {
		t.Run(tc.object, func(t *testing.T) {
			spec, err := ebpf.LoadCollectionSpec(tc.object)
			require.NoError(t, err)
			rs, err := Reads(spec)
			require.NoError(t, err)
			assert.Equal(t, tc.want, brief(rs))
		})
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
		assert.Equal(t, "the CO-RE-selected reads give struct inode ** on 5.10; struct inode * on 6.1", all[i].Detail)
	}
}

// The tracer's own targets keep their argument types on every kernel of the
// default matrix.
func TestCheckProbes(t *testing.T) {
	spec, err := probes.Spec()
	require.NoError(t, err)
	res, err := Check(spec, kernelsNamed(t, "5.10", "6.1", "6.12", "6.18", "latest"))
	require.NoError(t, err)
	require.NotEmpty(t, res.Findings)
	for _, f := range res.Findings {
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
	rs, err := ProgramReads(p, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"p kprobe f arg 2 via ctx+104 (si)",
		"p kprobe f arg 3 via ctx+96 (dx)",
		"p kprobe f arg 4 via ctx+88 (cx)",
	}, brief(rs))
}

// flowsCompiled checks that flows.o still has the compiled shape its
// programs exist to test: helper_first spills the context to the stack
// and loads it back after the helper calls, and the subprogram variants
// reach their read through a BPF-to-BPF call.
func flowsCompiled(t *testing.T, spec *ebpf.CollectionSpec) {
	t.Helper()
	spilled, filled := false, false
	for _, ins := range spec.Programs["helper_first"].Instructions {
		if ins.OpCode.Class() == asm.StXClass && ins.Dst == asm.R10 && ins.Src == asm.R1 {
			spilled = true
		}
		if spilled && ins.OpCode.Class() == asm.LdXClass && ins.Src == asm.R10 && ins.Dst == asm.R1 {
			filled = true
		}
	}
	assert.True(t, spilled && filled, "helper_first no longer spills the context to the stack: the test tests nothing")
	for _, name := range []string{"subprog_drift", "subprog_return_drift", "fentry_subprog"} {
		calls := 0
		for _, ins := range spec.Programs[name].Instructions {
			if ins.IsFunctionCall() {
				calls++
			}
		}
		assert.Equal(t, 1, calls, "%s calls one subprogram", name)
	}
}

// TestCheckFlows runs the drift check over testdata/flows.o (see flows.c):
// reads through the stack, callee-saved registers and subprograms are
// drift; a CO-RE check choosing the argument by kernel is not, unless the
// choice is wrong; the analysis says what it cannot follow.
func TestCheckFlows(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec("testdata/flows.o")
	require.NoError(t, err)
	flowsCompiled(t, spec)
	res, err := Check(spec, kernelsNamed(t, "5.10", "6.1", "6.12"))
	require.NoError(t, err)
	assert.Equal(t, map[string]Verdict{
		"helper_first arg 2":         Drift,
		"subprog_drift arg 2":        Drift,
		"subprog_return_drift arg 2": Drift,
		"fentry_subprog arg 2":       Drift,
		"selected arg 2":             Selected,
		"selected arg 3":             Selected,
		"selected_wrong arg 2":       Drift,
		"selected_wrong arg 3":       Drift,
		"ret_after_helpers return":   Stable,
		"computed ?":                 Unknown,
		"unused_read arg 2":          DeadEverywhere,
		"func_arg arg 2":             Drift,
	}, verdicts(res.Findings))
	assert.Equal(t, []string{"context_only"}, res.ContextOnly)
	for _, f := range res.Findings {
		states := map[string]string{}
		for _, c := range f.Cells {
			states[c.Kernel] = string(c.State) + " " + c.Why
		}
		switch f.Program + " " + f.Label() {
		case "helper_first arg 2":
			assert.Equal(t, "struct dentry * (arg 2) on 5.10; struct inode * (arg 2) on 6.1, 6.12", f.Detail)
		case "subprog_drift arg 2":
			assert.Equal(t, "ctx+104 (si) in unlinked_ino()", f.Via)
		case "subprog_return_drift arg 2":
			assert.Equal(t, "pt_regs.si (CO-RE) in second_arg()", f.Via)
		case "fentry_subprog arg 2":
			assert.Equal(t, "ctx[1] in fentry_second()", f.Via)
		case "selected arg 2":
			// Read at entry on every kernel; from 5.12 on its value is
			// never used.
			assert.Equal(t, map[string]string{"5.10": "reads ", "6.1": "dead on this kernel value unused", "6.12": "dead on this kernel value unused"}, states)
		case "selected arg 3":
			assert.Equal(t, map[string]string{"5.10": "dead on this kernel value unused", "6.1": "reads ", "6.12": "reads "}, states)
		case "selected_wrong arg 2":
			assert.Equal(t, "the CO-RE-selected reads give struct inode ** on 5.10; struct inode * on 6.1, 6.12", f.Detail)
		case "unused_read arg 2":
			assert.Equal(t, map[string]string{"5.10": "dead on this kernel value unused", "6.1": "dead on this kernel value unused", "6.12": "dead on this kernel value unused"}, states)
		case "computed ?":
			assert.Equal(t, "context read at an offset computed at run time (on 5.10, 6.1, 6.12)", f.Detail)
		}
	}
}

// Without a kernel, every read the program can make is found, whichever
// way its CO-RE checks go.
func TestReadsFlows(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec("testdata/flows.o")
	require.NoError(t, err)
	rs, err := Reads(spec)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"computed kprobe vfs_unlink ? via insn 5",
		"fentry_subprog fentry vfs_unlink arg 2 via ctx[1] in fentry_second()",
		"func_arg fentry vfs_unlink arg 2 via ctx[1] by bpf_get_func_arg",
		"helper_first kprobe vfs_unlink arg 2 via ctx+104 (si)",
		"ret_after_helpers kretprobe vfs_unlink return via ctx+80 (ax)",
		"selected kprobe vfs_unlink arg 2 via pt_regs.si (CO-RE)",
		"selected kprobe vfs_unlink arg 3 via pt_regs.dx (CO-RE)",
		"selected_wrong kprobe vfs_unlink arg 2 via pt_regs.si (CO-RE)",
		"selected_wrong kprobe vfs_unlink arg 3 via pt_regs.dx (CO-RE)",
		"subprog_drift kprobe vfs_unlink arg 2 via ctx+104 (si) in unlinked_ino()",
		"subprog_return_drift kprobe vfs_unlink arg 2 via pt_regs.si (CO-RE) in second_arg()",
		"unused_read kprobe vfs_unlink arg 2 via ctx+104 (si)",
	}, brief(rs))
}

// The interpreter follows the context through a stack spill across a
// helper call, drops a read whose value is overwritten before any use,
// follows a constant through the stack to decide a branch, and carries a
// read's value through a subprogram's return.
func TestInterpreterFlows(t *testing.T) {
	insns := asm.Instructions{
		asm.StoreMem(asm.RFP, -8, asm.R1, asm.DWord), // spill ctx
		asm.Mov.Imm(asm.R2, 0),
		asm.StoreMem(asm.RFP, -16, asm.R2, asm.DWord), // spill the constant 0
		asm.FnGetCurrentPidTgid.Call(),
		asm.LoadMem(asm.R1, asm.RFP, -8, asm.DWord), // fill ctx
		asm.LoadMem(asm.R6, asm.R1, 112, asm.DWord), // arg 1: overwritten, never used
		asm.Mov.Imm(asm.R6, 1),
		asm.LoadMem(asm.R3, asm.RFP, -16, asm.DWord), // the constant 0 again
		asm.JEq.Imm(asm.R3, 0, "skip"),
		asm.LoadMem(asm.R7, asm.R1, 96, asm.DWord), // arg 3: dead, the branch is always taken
		asm.Mov.Reg(asm.R0, asm.R7),
		asm.Return(),
		asm.Call.Label("sub").WithSymbol("skip"), // r0 = arg 2 read in sub
		asm.StoreMem(asm.RFP, -24, asm.R0, asm.DWord),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -24),
		asm.LoadMapPtr(asm.R1, 0),
		asm.FnMapLookupElem.Call(), // the key holds arg 2: used
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
		asm.LoadMem(asm.R0, asm.R1, 104, asm.DWord).WithSymbol("sub"),
		asm.Return(),
	}
	a, err := newAnalysis(insns, nil, false, nil)
	require.NoError(t, err)
	a.run()
	require.Empty(t, a.problems)
	got := map[int64]bool{}
	for i, s := range a.sites {
		got[s.off] = a.used[i]
	}
	assert.Equal(t, map[int64]bool{112: false, 104: true}, got, "arg 1 read but unused, arg 2 used, arg 3 unreachable")
	assert.False(t, a.reached[9], "the branch on the spilled constant is decided")
}

// Uses of the context the analysis cannot follow are problems (unknown
// verdicts), never dropped.
func TestInterpreterProblems(t *testing.T) {
	tests := []struct {
		name  string
		insns asm.Instructions
		want  string
	}{
		{"context stored to a map value", asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1),
			asm.LoadMapValue(asm.R2, 0, 0).WithReference(".bss"),
			asm.StoreMem(asm.R2, 0, asm.R6, asm.DWord),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		}, "context pointer stored to memory the analysis does not follow"},
		{"context passed as a helper's second argument", asm.Instructions{
			asm.Mov.Reg(asm.R2, asm.R1),
			asm.LoadMapPtr(asm.R1, 0).WithReference("m"),
			asm.FnMapLookupElem.Call(),
			asm.Return(),
		}, "context passed to bpf_map_lookup_elem as argument 2"},
		{"context at an unknown offset", asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1),
			asm.FnGetPrandomU32.Call(),
			asm.Add.Reg(asm.R6, asm.R0),
			asm.LoadMem(asm.R0, asm.R6, 0, asm.DWord),
			asm.Return(),
		}, "context read at an offset computed at run time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := newAnalysis(tt.insns, nil, false, nil)
			require.NoError(t, err)
			a.run()
			var whys []string
			for _, p := range a.problems {
				whys = append(whys, p.why)
			}
			assert.Equal(t, []string{tt.want}, whys)
			assert.True(t, a.touched)
		})
	}
}
