package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/corematrix/corematrix/corereport"
)

func TestWriteLoadTable(t *testing.T) {
	rows := []loadResult{
		{Kernel: "5.10", Version: "5.10.223", Agreement: agreeRight},
		{Kernel: "5.10", Version: "5.10.223", Agreement: agreeInput},
		{Kernel: "6.1", Version: "6.1.176", Agreement: agreeWrong},
		{Kernel: "6.1", Version: "6.1.176", Agreement: agreeRight},
		{Kernel: "6.1", Version: "6.1.176", Agreement: agreeRight},
	}
	var b strings.Builder
	writeLoadTable(&b, rows)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	assert.Equal(t, []string{
		"| 5.10 (5.10.223) | 1 | 0 | 0 | 0 | 0 | 1 | 0 | 0 | 2 |",
		"| 6.1 (6.1.176) | 2 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 3 |",
		"| all | 3 | 1 | 0 | 0 | 0 | 1 | 0 | 0 | 5 |",
	}, lines[2:])
}

// A map the kernel refused to create is the program's failure, attributed
// to the map: right when the map check predicted it, WRONG when nothing did.
func TestAgreementMapCreation(t *testing.T) {
	refused := loadRow{Stage: "map", Error: "map counts: map create: invalid argument"}
	predictedFail := corereport.Program{Load: corereport.Fails, Verdict: corereport.Fails, Reason: "map counts: flag BPF_F_INNER_MAP (0x1000) is not in this kernel's map flags"}
	assert.Equal(t, agreeRight, agreement(true, true, refused, predictedFail))
	assert.Equal(t, agreeWrong, agreement(true, true, refused, corereport.Program{Load: corereport.Loads, Attach: corereport.Loads}))
	assert.Equal(t, "(map creation) ", stageText(refused.Stage))
}
