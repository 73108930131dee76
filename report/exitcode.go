package report

// Exit codes of vmtest, defined once here for the run's verdict and the
// command line alike, as documented in README.md.
const (
	ExitOK   = 0 // every kernel passed and no program contradicted its prediction
	ExitFail = 1 // at least one kernel failed (all skipped counts), or a prediction was contradicted
	// ExitUsage is a bad command line or input: a wrong flag or argument,
	// an unreadable report, and a run or merge left with no kernel at all.
	ExitUsage = 2
	ExitInfra = 3 // every failure was the infrastructure's (infra-error, unavailable)
	// ExitInterrupted is the exit code of a run stopped by SIGINT, SIGTERM,
	// SIGQUIT or SIGHUP (128+SIGINT, as shells report Ctrl-C).
	ExitInterrupted = 130
)

// ExitCode is the process exit code for a run.
//
// It is ExitInterrupted when any kernel was interrupted, ExitUsage when s
// holds no kernel (nothing was asked or nothing was
// found), ExitOK when every kernel passed and no BPF program's real load
// verdict contradicts its offline prediction, ExitInfra when every kernel that
// did not pass is infra-error or unavailable and no prediction was
// contradicted, and ExitFail otherwise. Skip counts as a failure. A
// contradicted prediction fails the run even when every kernel passed: one
// of the two verdicts is wrong, and the agreement check must be able to fail.
func ExitCode(s Summary) int {
	if len(s.Kernels) == 0 {
		return ExitUsage
	}
	failed, infra := 0, 0
	for _, k := range s.Kernels {
		if k.Outcome == Interrupted {
			return ExitInterrupted
		}
	}
	for _, k := range s.Kernels {
		if k.Outcome.Passed() {
			continue
		}
		failed++
		if k.Outcome.Infrastructure() {
			infra++
		}
	}
	if len(Disagreements(s)) > 0 {
		return ExitFail
	}
	switch {
	case failed == 0:
		return ExitOK
	case failed == infra:
		return ExitInfra
	default:
		return ExitFail
	}
}
