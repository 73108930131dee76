package corerelo

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// poison is what cilium/ebpf writes for a poisoned relocation.
func poison() asm.Instruction { return asm.BuiltinFunc(btf.COREBadRelocationSentinel).Call() }

// ldx is a memory load: its result is unknown to the analysis.
func ldx(dst asm.Register) asm.Instruction { return asm.LoadMem(dst, asm.R1, 0, asm.DWord) }

func TestReachablePoison(t *testing.T) {
	exit := []asm.Instruction{asm.Mov.Imm(asm.R0, 0), asm.Return()}
	prog := func(head ...asm.Instruction) asm.Instructions {
		return append(append(asm.Instructions{}, head...), append([]asm.Instruction{poison().WithSymbol("bad")}, exit...)...)
	}
	// Each program ends: ... "bad": call 0xbad2310; r0 = 0; exit. Head
	// instructions decide whether "bad" is reached; "out" labels the r0 = 0
	// after it, so a jump to "out" skips the poison.
	tests := []struct {
		name  string
		insns asm.Instructions
		want  bool // poison reachable
	}{
		{"straight line", prog(asm.Mov.Imm(asm.R1, 1)), true},
		{"exists=0 skips", withOut(prog(asm.Mov.Imm(asm.R1, 0), asm.JEq.Imm(asm.R1, 0, "out"))), false},
		{"exists=1 falls through", withOut(prog(asm.Mov.Imm(asm.R1, 1), asm.JEq.Imm(asm.R1, 0, "out"))), true},
		{"jne on 0 falls through", withOut(prog(asm.Mov.Imm(asm.R1, 0), asm.JNE.Imm(asm.R1, 0, "out"))), true},
		{"jne on 1 skips", withOut(prog(asm.Mov.Imm(asm.R1, 1), asm.JNE.Imm(asm.R1, 0, "out"))), false},
		{"unknown value keeps both", withOut(prog(ldx(asm.R1), asm.JEq.Imm(asm.R1, 0, "out"))), true},
		{"move propagates", withOut(prog(asm.Mov.Imm(asm.R2, 0), asm.Mov.Reg(asm.R1, asm.R2), asm.JEq.Imm(asm.R1, 0, "out"))), false},
		{"alu folds", withOut(prog(asm.Mov.Imm(asm.R1, 2), asm.And.Imm(asm.R1, 1), asm.JEq.Imm(asm.R1, 0, "out"))), false},
		{"reg compare", withOut(prog(asm.Mov.Imm(asm.R1, 0), asm.Mov.Imm(asm.R2, 0), asm.JEq.Reg(asm.R1, asm.R2, "out"))), false},
		{"jump32", withOut(prog(asm.LoadImm(asm.R1, 1<<32, asm.DWord), asm.JEq.Imm32(asm.R1, 0, "out"))), false},
		{"jump64 sees high bits", withOut(prog(asm.LoadImm(asm.R1, 1<<32, asm.DWord), asm.JEq.Imm(asm.R1, 0, "out"))), true},
		{"helper call clobbers r1", withOut(prog(asm.Mov.Imm(asm.R1, 0), asm.FnKtimeGetNs.Call(), asm.JEq.Imm(asm.R1, 0, "out"))), true},
		{"helper call keeps r6", withOut(prog(asm.Mov.Imm(asm.R6, 0), asm.FnKtimeGetNs.Call(), asm.JEq.Imm(asm.R6, 0, "out"))), false},
		{"merge of different constants is unknown", withOut(prog(
			ldx(asm.R2),
			asm.Mov.Imm(asm.R1, 0),
			asm.JEq.Imm(asm.R2, 0, "join"),
			asm.Mov.Imm(asm.R1, 1),
			asm.Mov.Reg(asm.R3, asm.R3).WithSymbol("join"),
			asm.JEq.Imm(asm.R1, 0, "out"))), true},
		{"exit before poison", prog(asm.Return()), false},
		{"goto over poison", withOut(prog(asm.Ja.Label("out"))), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := Reachable(tt.insns)
			idx := -1
			for i := range tt.insns {
				if IsPoisoned(&tt.insns[i]) {
					idx = i
				}
			}
			require.False(t, idx < 0, "test program has no poisoned instruction")
			assert.Equal(t, tt.want, live[idx], "poison reachable = %v, want %v in\n%v", live[idx], tt.want, tt.insns)
		})
	}
}

// withOut labels the instruction after the poison "out".
func withOut(insns asm.Instructions) asm.Instructions {
	for i := range insns {
		if IsPoisoned(&insns[i]) {
			insns[i+1] = insns[i+1].WithSymbol("out")
			return insns
		}
	}
	return insns
}

func TestReachableSubprogram(t *testing.T) {
	tests := []struct {
		name string
		arg  int32 // r1 = arg before calling the subprogram, which tests r1
		want bool
	}{
		// The callee starts with unknown registers: both sides stay live,
		// since the analysis does not follow arguments into calls.
		{"callee guard on argument is not folded", 0, true},
		{"callee guard on argument 1", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			insns := asm.Instructions{
				asm.Mov.Imm(asm.R1, tt.arg),
				asm.Call.Label("sub"),
				asm.Return(),
				asm.JEq.Imm(asm.R1, 0, "ret").WithSymbol("sub"),
				poison(),
				asm.Mov.Imm(asm.R0, 0).WithSymbol("ret"),
				asm.Return(),
			}
			live := Reachable(insns)
			assert.Equal(t, tt.want, live[4], "poison in subprogram reachable = %v, want %v", live[4], tt.want)
		})
	}

	// A callback whose address is loaded is live: a helper may call it.
	cb := asm.Instructions{
		asm.LoadImm(asm.R2, 0, asm.DWord),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
		poison().WithSymbol("callback"),
		asm.Return(),
	}
	cb[0].Src = asm.PseudoFunc
	cb[0] = cb[0].WithReference("callback")
	require.True(t, cb[0].IsLoadOfFunctionPointer(), "test instruction %v is not a function pointer load", cb[0])
	live := Reachable(cb)
	assert.True(t, live[3], "poison in a callback reachable = false, want true")

	// A subprogram nobody calls is dead.
	insns := asm.Instructions{
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
		poison().WithSymbol("unused"),
		asm.Return(),
	}
	live = Reachable(insns)
	assert.False(t, live[2], "poison in uncalled subprogram reachable = true, want false")
}

func TestIsPoisoned(t *testing.T) {
	tests := []struct {
		name string
		ins  asm.Instruction
		want bool
	}{
		{"poison call", poison(), true},
		{"poison dword load", asm.LoadImm(asm.R10, btf.COREBadRelocationSentinel, asm.DWord), true},
		{"sentinel into r1 is data", asm.LoadImm(asm.R1, btf.COREBadRelocationSentinel, asm.DWord), false},
		{"helper call", asm.FnKtimeGetNs.Call(), false},
		{"mov sentinel", asm.Mov.Imm(asm.R1, btf.COREBadRelocationSentinel), false},
	}
	for _, tt := range tests {
		got := IsPoisoned(&tt.ins)
		assert.Equal(t, tt.want, got, "%s: IsPoisoned(%v) = %v, want %v", tt.name, tt.ins, got, tt.want)
	}
}
