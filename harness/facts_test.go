package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/corematrix/corematrix/probes"
	"github.com/corematrix/corematrix/report"
)

// facts collects what the tests learn about the kernel; TestMain writes it to
// $CM_FACTS once every test ran.
var facts struct {
	sync.Mutex
	report.Facts
}

// writeFacts writes the collected facts as JSON to $CM_FACTS, if set.
func writeFacts() error {
	path := os.Getenv("CM_FACTS")
	if path == "" {
		return nil
	}
	facts.Lock()
	defer facts.Unlock()
	b, err := json.MarshalIndent(&facts.Facts, "", "  ")
	if err != nil {
		return fmt.Errorf("write facts: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write facts: %w", err)
	}
	return nil
}

// recordPrograms keeps the per-program load statistics of the first load in
// the kernel's natural mode (the first of modes()), failed or not.
func recordPrograms(m mode, tr *probes.Tracer, err error) {
	if m != modes()[0] {
		return
	}
	var stats []probes.ProgramStat
	var le *probes.LoadError
	switch {
	case err == nil:
		stats = tr.Programs()
	case errors.As(err, &le):
		stats = le.Programs
	default:
		return
	}
	facts.Lock()
	defer facts.Unlock()
	if facts.Programs != nil {
		return
	}
	for _, p := range stats {
		facts.Programs = append(facts.Programs, report.ProgramStat{
			Name:          p.Name,
			Loaded:        p.Loaded,
			Error:         p.Error,
			VerifiedInsns: p.VerifiedInsns,
			LoadMillis:    float64(p.LoadTime.Microseconds()) / 1000,
		})
	}
}

// recordBranches fills Facts.Branches from the probes' catalog, each marked
// taken when an event of any mode the suite ran carried its bit (and
// synthetic when only TestOldFlavorsWithSyntheticBTF's events did): on a 5.8+
// kernel the perf output path is exercised by the forced-perf runs, so it is
// covered there too, next to the ring buffer the kernel picks by default.
func recordBranches() {
	if skipReason != "" {
		return
	}
	var seen probes.Core
	sessions.Lock()
	for _, m := range modes() {
		s := sessions.m[m]
		if s == nil {
			continue
		}
		s.mu.Lock()
		for _, c := range s.core {
			seen |= c
		}
		s.mu.Unlock()
	}
	sessions.Unlock()
	facts.Lock()
	defer facts.Unlock()
	synthetic.Lock()
	synth := synthetic.core
	synthetic.Unlock()
	for _, b := range probes.Branches() {
		facts.Branches = append(facts.Branches, report.Branch{
			Group: b.Group, Name: b.Name, Needs: b.Needs, Taken: seen.Has(b.Bit),
			Synthetic: !seen.Has(b.Bit) && synth.Has(b.Bit),
		})
	}
}
