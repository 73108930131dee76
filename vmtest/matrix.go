package vmtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/corematrix/corematrix/report"
)

// KernelError is the error of one kernel that did not pass.
type KernelError struct {
	Kernel  string
	Outcome report.Outcome
	Reason  string
}

func (e *KernelError) Error() string {
	return fmt.Sprintf("kernel %s: %s: %s", e.Kernel, e.Outcome, e.Reason)
}

// Matrix runs the payload on every kernel of the Config, cfg.Jobs at a time.
// onResult, when set, is called as each kernel finishes (from several
// goroutines; calls are serialized). The summary lists the kernels in the
// order given; the error aggregates (go-multierror) a *KernelError for each
// kernel that did not pass.
func (r *Runner) Matrix(ctx context.Context, onResult func(*Result)) (report.Summary, error) {
	sum := report.Summary{Started: time.Now(), Payload: r.cfg.Payload}
	results := make([]*Result, len(r.cfg.Kernels))
	sem := make(chan struct{}, r.cfg.Jobs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, k := range r.cfg.Kernels {
		name := k.Name
		r.progress(i, name, StateQueued, nil)
		wg.Go(func() {
			notStarted := func() {
				results[i] = &Result{KernelResult: report.KernelResult{
					Kernel: k, Outcome: report.Interrupted,
					Reason: "interrupted before it started", ExitCode: -1,
				}}
				r.progress(i, name, StateDone, &results[i].KernelResult)
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				notStarted()
				return
			}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				notStarted()
				return
			}
			dir := report.KernelDir(r.cfg.ReportDir, name)
			res := r.Kernel(ctx, k, dir, func(s State) { r.progress(i, name, s, nil) })
			results[i] = res
			mu.Lock()
			if onResult != nil {
				onResult(res)
			}
			mu.Unlock()
			r.progress(i, name, StateDone, &res.KernelResult)
		})
	}
	wg.Wait()
	var errs *multierror.Error
	for _, res := range results {
		sum.Kernels = append(sum.Kernels, res.KernelResult)
		if !res.Outcome.Passed() {
			errs = multierror.Append(errs, &KernelError{Kernel: res.Kernel.Name, Outcome: res.Outcome, Reason: res.Reason})
		}
	}
	sum.Finished = time.Now()
	return sum, errs.ErrorOrNil()
}

func (r *Runner) progress(i int, name string, s State, res *report.KernelResult) {
	if r.cfg.Progress != nil {
		r.cfg.Progress.Update(i, name, s, res)
	}
}
