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

// The lines below the load table are text from the objects and the
// kernels: as markdown they are escaped list items, as text they are as
// named.
func TestWriteLoadSummaryEscapes(t *testing.T) {
	rows := []loadResult{
		{Object: "/tmp/[x](y).o", Program: "p|q", Kernel: "<img src=a>", Agreement: agreeWrong,
			Predicted: "loads", Why: "see http://example.test", Error: "load: a|b"},
	}
	var md strings.Builder
	writeLoadSummary(&md, rows, true)
	assert.Equal(t, []string{
		`- &lt;img src=a>: 0 right, 1 WRONG, 0 unknown, 0 verifier-only, 0 attach-only; 0 need run-time input, 0 refused by the loader, 0 no result`,
		`- DISAGREE \[x\](y).o p\|q on &lt;img src=a> (WRONG): predicted "loads" (see http\://example.test); kernel: loaded=no attached=- load: a\|b`,
	}, strings.Split(strings.TrimSpace(md.String()), "\n"))

	var text strings.Builder
	writeLoadSummary(&text, rows, false)
	assert.Contains(t, text.String(), "\n<img src=a>: 0 right")
	assert.Contains(t, text.String(), "DISAGREE [x](y).o p|q on <img src=a> (WRONG)")
}
