package vmtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/corematrix/corematrix/kernel"
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
			timeout, ok := KernelBudget(time.Now(), r.cfg.Deadline, r.cfg.Timeout)
			var res *Result
			if ok {
				res = r.kernelWithin(ctx, k, dir, func(s State) { r.progress(i, name, s, nil) }, timeout)
				r.noteCut(res)
			} else {
				res = r.notStartedInTime(k, dir, timeout)
			}
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

// MinKernelTime is the least time a kernel needs to be worth starting under
// a run's Deadline: a boot and a power-off under TCG on a busy host.
const MinKernelTime = 45 * time.Second

// KernelBudget returns the deadline of a kernel whose turn comes at now:
// timeout, or what is left before the run's deadline when that is shorter
// (a zero deadline leaves timeout as it is). ok is false when less than
// MinKernelTime is left: the kernel should not start.
func KernelBudget(now, deadline time.Time, timeout time.Duration) (budget time.Duration, ok bool) {
	if deadline.IsZero() {
		return timeout, true
	}
	left := deadline.Sub(now)
	if left < MinKernelTime {
		return max(left, 0), false
	}
	return min(timeout, left), true
}

// notStartedInTime is the result of a kernel whose turn came too close to
// the run's Deadline: a timeout that names the time left, so that it is
// not mistaken for an interrupted run or a hang.
func (r *Runner) notStartedInTime(k kernel.Kernel, dir string, left time.Duration) *Result {
	res := &Result{Dir: dir, timeout: left}
	res.Kernel, res.Outcome, res.ExitCode = k, report.Timeout, -1
	res.Reason = fmt.Sprintf("not started: its turn came with %s left of the run's deadline (%s), less than the %s a kernel needs; raise -timeout or --jobs",
		left.Round(time.Second), r.cfg.DeadlineNote, MinKernelTime)
	return res
}

// noteCut adds to a timeout's reason that the kernel's deadline was the
// run's shared Deadline rather than Config.Timeout.
func (r *Runner) noteCut(res *Result) {
	if res.Outcome == report.Timeout && res.timeout < r.cfg.Timeout {
		res.Reason += fmt.Sprintf(" (the %s left of the run's deadline: %s)", res.timeout.Round(time.Second), r.cfg.DeadlineNote)
	}
}

func (r *Runner) progress(i int, name string, s State, res *report.KernelResult) {
	if r.cfg.Progress != nil {
		r.cfg.Progress.Update(i, name, s, res)
	}
}
