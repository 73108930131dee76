package bench

import (
	"bytes"
	"debug/elf"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/vmtest"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		assert.Equal(t, tc.want, Median(tc.in), "median of %v", tc.in)
	}
}

func TestMedianResult(t *testing.T) {
	rs := []*vmtest.Result{{}, {}, {}}
	for i, secs := range []float64{9, 3, 5} {
		rs[i].Timings.Total = secs
	}
	assert.Equal(t, 5.0, medianResult(rs).Timings.Total)
	assert.Equal(t, 3.0, medianResult(rs[1:]).Timings.Total, "lower middle of an even count")
	assert.Nil(t, medianResult(nil))
}

// TestRatioPairsRuns checks that ratios pair each run's boots: a host that
// slows down between runs moves a run's bare and trivial boots alike.
func TestRatioPairsRuns(t *testing.T) {
	k := Kernel{
		Bare:    []float64{2, 3, 4},       // the host got slower run by run
		Trivial: []float64{2.2, 3.6, 4.4}, // 1.1x, 1.2x, 1.1x
		Suite:   []float64{6, 9},          // a run cut short: pairs only
		CPU:     map[Kind][]float64{Bare: {1, 0}, Trivial: {1.5, 3}},
	}
	assert.InDelta(t, 1.1, k.Ratio(Trivial), 1e-9)
	assert.InDelta(t, 3.0, k.Ratio(Suite), 1e-9)
	assert.InDelta(t, 1.5, k.CPURatio(Trivial), 1e-9, "a zero base is no pair")
	assert.Zero(t, k.Ratio(Floor))
}

// TestTinyELF checks the benchmark's programs are static executables of
// their architecture whose one segment maps the whole file and whose entry
// is the text.
func TestTinyELF(t *testing.T) {
	for name, tt := range map[string]struct {
		text    []byte
		b       []byte
		machine elf.Machine
	}{
		"poweroff":       {powerOffText, tiny["amd64"].powerOff(), elf.EM_X86_64},
		"exit0":          {exit0Text, tiny["amd64"].exit0(), elf.EM_X86_64},
		"arm64 poweroff": {powerOffARM64, tiny["arm64"].powerOff(), elf.EM_AARCH64},
		"arm64 exit0":    {exit0ARM64, tiny["arm64"].exit0(), elf.EM_AARCH64},
	} {
		text, b := tt.text, tt.b
		f, err := elf.NewFile(bytes.NewReader(b))
		require.NoError(t, err, name)
		assert.Equal(t, elf.ET_EXEC, f.Type, name)
		assert.Equal(t, tt.machine, f.Machine, name)
		require.Len(t, f.Progs, 1, name)
		p := f.Progs[0]
		assert.Equal(t, elf.PT_LOAD, p.Type, name)
		assert.Equal(t, uint64(len(b)), p.Filesz, name)
		assert.Equal(t, p.Vaddr+uint64(len(b)-len(text)), f.Entry, name)
		assert.Equal(t, text, b[len(b)-len(text):], name)
	}
	// reboot(2) takes the magic numbers and the command in edi, esi, edx.
	assert.Equal(t, []byte{0xdc, 0xfe, 0x21, 0x43}, powerOffText[11:15], "LINUX_REBOOT_CMD_POWER_OFF")
	// arm64: movz x0, #0xdead; movk x0, #0xfee1, lsl #16 (as an assembler
	// encodes them), then the command's halves into x2, x8 = 142, svc #0.
	assert.Equal(t, []byte{0xa0, 0xd5, 0x9b, 0xd2}, powerOffARM64[0:4], "movz x0, #0xdead")
	assert.Equal(t, []byte{0x20, 0xdc, 0xbf, 0xf2}, powerOffARM64[4:8], "movk x0, #0xfee1, lsl #16")
	assert.Equal(t, []byte{0x82, 0xdb, 0x9f, 0xd2}, powerOffARM64[16:20], "movz x2, #0xfedc")
	assert.Equal(t, []byte{0xc8, 0x11, 0x80, 0xd2}, powerOffARM64[24:28], "movz x8, #142")
	assert.Equal(t, []byte{0x01, 0x00, 0x00, 0xd4}, powerOffARM64[28:32], "svc #0")
}

func TestSharedRatioPairsWithTrivial(t *testing.T) {
	k := Kernel{Trivial: []float64{2, 4, 0}, Shared: []float64{2.2, 4.2, 3}}
	assert.InDelta(t, 1.075, k.SharedRatio(), 1e-9, "median of 1.1x and 1.05x; a zero trivial is no pair")
	assert.Zero(t, Kernel{Shared: []float64{1}}.SharedRatio())
}
