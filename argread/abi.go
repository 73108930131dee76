package argread

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// abi is one architecture's kprobe context: the struct pt_regs fields that
// carry a traced function's arguments and return value.
type abi struct {
	// offsets maps a context offset to the field there.
	offsets map[int64]string
	// args maps a field to the argument it carries (0: the return value).
	args map[string]int
	// ret is the field that holds the return value in a kretprobe.
	ret string
	// coreType names the register struct in Read.Via.
	coreType string
	// coreField turns the member path of a CO-RE relocation on a pt_regs
	// type (after "TYPE.") into a field of offsets.
	coreField func(typ, path string) (string, bool)
}

// x86 is the x86-64 pt_regs of the ptrace ABI
// (arch/x86/include/uapi/asm/ptrace.h): di, si, dx, cx, r8, r9 carry
// arguments 1 to 6, ax the return value.
var x86 = abi{
	offsets:  map[int64]string{112: "di", 104: "si", 96: "dx", 88: "cx", 72: "r8", 64: "r9", 80: "ax"},
	args:     map[string]int{"di": 1, "si": 2, "dx": 3, "cx": 4, "r8": 5, "r9": 6, "ax": 0},
	ret:      "ax",
	coreType: "pt_regs",
	coreField: func(typ, path string) (string, bool) {
		return path, strings.HasPrefix(typ, "pt_regs")
	},
}

// arm64 is the arm64 pt_regs, which starts with the UAPI struct user_pt_regs
// (arch/arm64/include/uapi/asm/ptrace.h: u64 regs[31], sp, pc, pstate):
// x0 to x7 (regs[0] to regs[7]) carry arguments 1 to 8, and x0 the return
// value in a kretprobe. libbpf's PT_REGS_PARMn read them through struct
// user_pt_regs; the kernel's struct pt_regs holds the same registers as
// regs[] (an anonymous union) or user_regs.regs[].
var arm64 = func() abi {
	b := abi{offsets: map[int64]string{}, args: map[string]int{}, ret: "regs[0]", coreType: "user_pt_regs"}
	for i := range 8 {
		f := "regs[" + strconv.Itoa(i) + "]"
		b.offsets[int64(8*i)] = f
		b.args[f] = i + 1
	}
	b.coreField = func(typ, path string) (string, bool) {
		if !strings.HasPrefix(typ, "pt_regs") && !strings.HasPrefix(typ, "user_pt_regs") {
			return "", false
		}
		return strings.TrimPrefix(path, "user_regs."), true
	}
	return b
}()

// abiOf returns the kprobe context of the architecture an object was
// built for: arm64 when its BTF has struct user_pt_regs (libbpf's arm64
// PT_REGS_* macros and an arm64 vmlinux.h declare it; x86 has no such
// type), x86-64 otherwise.
func abiOf(local *btf.Spec) *abi {
	if local != nil {
		var st *btf.Struct
		if err := local.TypeByName("user_pt_regs", &st); err == nil || errors.Is(err, btf.ErrMultipleMatches) {
			return &arm64
		}
	}
	return &x86
}

// position returns the argument the field at context offset off carries
// for attach (0: the return value).
func (b *abi) position(off int64, attach string) (field string, pos int) {
	field = b.offsets[off]
	if attach == Kretprobe && field == b.ret {
		return field, 0
	}
	return field, b.args[field]
}

// coreOffset returns the context offset of the field a CO-RE relocation of
// typ's member path reads, ok false when it is no argument register.
func (b *abi) coreOffset(typ, path string) (int64, bool) {
	field, ok := b.coreField(typ, path)
	if !ok {
		return 0, false
	}
	for off, f := range b.offsets {
		if f == field {
			return off, true
		}
	}
	return 0, false
}

// via names a context read for Read.Via.
func (b *abi) via(off int64, field string, core bool) string {
	if core {
		return b.coreType + "." + field + " (CO-RE)"
	}
	return fmt.Sprintf("ctx+%d (%s)", off, field)
}
