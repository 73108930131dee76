package corerelo

import (
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
)

// TestReachableReadOnly checks that a branch on a read-only global (a
// const volatile in .rodata) has only the side the object's value picks,
// and that without the map's contents both sides stay live.
func TestReachableReadOnly(t *testing.T) {
	prog := asm.Instructions{
		asm.LoadMapValue(asm.R1, 0, 4).WithReference(".rodata"),
		asm.Mov.Reg(asm.R3, asm.R1),
		asm.LoadMem(asm.R2, asm.R3, 0, asm.Byte),
		asm.JEq.Imm(asm.R2, 0, "out"),
		asm.FnGetCurrentTaskBtf.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	}
	const call = 4
	for _, tc := range []struct {
		name     string
		rodata   map[string][]byte
		wantLive bool
	}{
		{"false in the object: call dead", map[string][]byte{".rodata": {9, 9, 9, 9, 0}}, false},
		{"true in the object: call live", map[string][]byte{".rodata": {0, 0, 0, 0, 1}}, true},
		{"not read-only: both sides live", map[string][]byte{}, true},
		{"offset past the value: unknown", map[string][]byte{".rodata": {0, 0}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := ReachableWith(prog, func(ref string) []byte { return tc.rodata[ref] })
			assert.Equal(t, tc.wantLive, live[call], "live %v", live)
			assert.True(t, Reachable(prog)[call], "without contents the call is live")
		})
	}
}
