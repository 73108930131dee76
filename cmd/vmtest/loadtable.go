package main

import (
	"fmt"
	"strings"

	"github.com/corematrix/corematrix/report"
)

// writeLoadTable is the agreement per kernel as a markdown table (the
// summary of --summary --format markdown), with a row for all kernels.
func writeLoadTable(b *strings.Builder, rows []loadResult) {
	classes := []string{agreeRight, agreeWrong, agreeUnknown, agreeVerifier, agreeAttach, agreeInput, agreeLoader, agreeNoResult}
	per := map[string]map[string]int{}
	version := map[string]string{}
	var order []string
	for _, r := range rows {
		if per[r.Kernel] == nil {
			per[r.Kernel] = map[string]int{}
			order = append(order, r.Kernel)
			version[r.Kernel] = r.Version
		}
		per[r.Kernel][r.Agreement]++
	}
	t := report.MarkdownTable{Head: []string{"kernel", "right", "WRONG", "unknown", "verifier-only", "attach-only", "needs run-time input", "loader refused", "no result", "programs"}}
	line := func(name string, c map[string]int) {
		total := 0
		cells := []string{report.MarkdownCell(name)}
		for _, cl := range classes {
			cells = append(cells, fmt.Sprint(c[cl]))
			total += c[cl]
		}
		t.Add(append(cells, fmt.Sprint(total))...)
	}
	all := map[string]int{}
	for _, k := range order {
		name := k
		if version[k] != "" {
			name += " (" + version[k] + ")"
		}
		line(name, per[k])
		for cl, n := range per[k] {
			all[cl] += n
		}
	}
	if len(order) > 1 {
		line("all", all)
	}
	t.Write(b)
}
