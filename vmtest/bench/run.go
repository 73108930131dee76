package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest"
)

// Run boots every kernel of r's configuration runs times each in five ways,
// one boot at a time and side by side (run 1 of every kernel, then run 2,
// ...), so that a host whose load drifts affects them alike: floor, bare,
// with a trivial payload, with the trivial payload sharing the host's files,
// and with r's payload. Report directories go under r's ReportDir as
// KERNEL/RUN/KIND. Before run 1, one trivial boot of every kernel warms up
// what the first boot alone pays for (resolving the kernel, the host's page
// cache, the accelerator's verdict); it is not a sample
// (KERNEL/warmup/trivial). onSample, when set, hears every sample as it
// completes, and the warm-up boots as Run 0. Any boot that does not end in a
// passing verdict (floor and bare: QEMU powered off cleanly, no splat) stops
// the benchmark with an error: its timing would mean nothing.
func Run(ctx context.Context, r *vmtest.Runner, runs int, onSample func(Sample)) ([]Kernel, error) {
	if runs < 1 {
		return nil, fmt.Errorf("bench: runs must be at least 1, got %d", runs)
	}
	b, err := newBench(r, onSample)
	if err != nil {
		return nil, err
	}
	defer b.close()
	out := make([]Kernel, len(b.kernels))
	suites := make([][]*vmtest.Result, len(b.kernels))
	for _, k := range b.kernels {
		if _, err := b.payloadBoot(ctx, b.trivial, k, 0, Trivial, nil); err != nil {
			return out, err
		}
	}
	for run := 1; run <= runs; run++ {
		for i, k := range b.kernels {
			res, err := b.runKernel(ctx, k, run, &out[i])
			if err != nil {
				return out, err
			}
			suites[i] = append(suites[i], res)
		}
	}
	for i := range out {
		out[i].SuiteResult = medianResult(suites[i])
	}
	return out, nil
}

// bench is one benchmark's runners: the suite's (the caller's), the
// trivial payload's and the shared trivial payload's, and the floor and
// bare archives.
type bench struct {
	suite, trivial, shared *vmtest.Runner
	images                 *images
	kernels                []kernel.Kernel
	reportDir              string
	onSample               func(Sample)
	// tmp holds the trivial payloads and the archives.
	tmp string
}

// newBench derives the trivial runner from r, which shares r's
// configuration and accelerator verdict, and the shared runner from it,
// with the current directory as the working directory (what `vmtest exec`
// shares for a package).
func newBench(r *vmtest.Runner, onSample func(Sample)) (*bench, error) {
	cfg := r.Config()
	b := &bench{suite: r, kernels: cfg.Kernels, reportDir: cfg.ReportDir, onSample: onSample}
	var err error
	if b.tmp, err = os.MkdirTemp("", "vmtest-bench-"); err != nil {
		return nil, fmt.Errorf("%w: %w", vmtest.ErrInfra, err)
	}
	b.images = &images{dir: b.tmp}
	if err := b.start(); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// start writes the trivial payloads and derives the trivial and shared
// runners.
func (b *bench) start() error {
	payload, err := writeExit0(b.tmp)
	if err != nil {
		return err
	}
	b.trivial, err = b.suite.Derive(func(c *vmtest.Config) {
		c.Args, c.Raw, c.Files = nil, true, nil
		c.Predictor = nil
		c.Payload = payload
	})
	if err != nil {
		return err
	}
	b.images.r = b.trivial
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	b.shared, err = b.trivial.Derive(func(c *vmtest.Config) {
		c.ShareHost, c.PackWorkDir = true, false
		c.WorkDir = wd
	})
	return err
}

// close removes what the benchmark wrote (not the reports).
func (b *bench) close() {
	for _, r := range []*vmtest.Runner{b.trivial, b.shared} {
		if r != nil {
			r.Close()
		}
	}
	os.RemoveAll(b.tmp)
}

// writeExit0 writes the trivial payload of every architecture into dir:
// exit0 for the host's, linux-ARCH/exit0 beside it for the others
// (vmtest.ForArch finds them), and returns the host's.
func writeExit0(dir string) (string, error) {
	host := filepath.Join(dir, "exit0")
	for arch, prog := range tiny {
		p := host
		if arch != runtime.GOARCH {
			p = filepath.Join(dir, "linux-"+arch, "exit0")
		}
		err := os.MkdirAll(filepath.Dir(p), 0o755)
		if err == nil {
			err = os.WriteFile(p, prog.exit0(), 0o755)
		}
		if err != nil {
			return "", fmt.Errorf("%w: write trivial payload: %w", vmtest.ErrInfra, err)
		}
	}
	return host, nil
}

// runKernel boots k once of every kind, in the order trivial, shared,
// floor, bare, suite, records the samples of run in o and returns the
// suite's result.
func (b *bench) runKernel(ctx context.Context, k kernel.Kernel, run int, o *Kernel) (*vmtest.Result, error) {
	o.Name = k.Name
	if _, err := b.payloadBoot(ctx, b.trivial, k, run, Trivial, o); err != nil {
		return nil, err
	}
	res, err := b.payloadBoot(ctx, b.shared, k, run, Shared, o)
	if err != nil {
		return nil, err
	}
	o.SharedMode = res.Sharing
	for _, kind := range []Kind{Floor, Bare} {
		if err := b.bareBoot(ctx, k, run, kind, o); err != nil {
			return nil, err
		}
	}
	return b.payloadBoot(ctx, b.suite, k, run, Suite, o)
}

// dir is the report directory of kernel's boot of kind in run (run 0: the
// warm-up).
func (b *bench) dir(kernel string, run int, kind Kind) string {
	r := fmt.Sprint(run)
	if run == 0 {
		r = "warmup"
	}
	return filepath.Join(report.KernelDir(b.reportDir, kernel), r, string(kind))
}

// payloadBoot boots k with runner r as the sample of kind in run, records
// it in o (unless nil: the warm-up) and returns its result, which must
// pass.
func (b *bench) payloadBoot(ctx context.Context, r *vmtest.Runner, k kernel.Kernel, run int, kind Kind, o *Kernel) (*vmtest.Result, error) {
	res := r.Kernel(ctx, k, b.dir(k.Name, run, kind), nil)
	if err := passed(k.Name, kind, res); err != nil {
		return nil, err
	}
	if o != nil {
		o.add(kind, res.Timings.Total, res.Timings.QEMUCPU)
	}
	notify(b.onSample, Sample{k.Name, run, kind, res.Timings.Total, res.Timings.QEMUCPU, res})
	return res, nil
}

// bareBoot boots k with its architecture's floor or bare archive (kind),
// timed from resolving the kernel to QEMU's exit, and records the sample
// of run in o.
func (b *bench) bareBoot(ctx context.Context, k kernel.Kernel, run int, kind Kind, o *Kernel) error {
	start := time.Now()
	cpu, err := b.powerOff(ctx, k, kind, b.dir(k.Name, run, kind))
	if err != nil {
		return fmt.Errorf("bench %s: %s boot: %w", k.Name, kind, err)
	}
	wall := time.Since(start).Seconds()
	o.add(kind, wall, cpu)
	notify(b.onSample, Sample{k.Name, run, kind, wall, cpu, nil})
	return nil
}

// powerOff resolves k and boots it with the archive of kind, whose /init
// powers off at once, and returns the CPU seconds QEMU used. The
// accelerator must already be settled (the warm-up settles it).
func (b *bench) powerOff(ctx context.Context, k kernel.Kernel, kind Kind, dir string) (float64, error) {
	k, err := b.trivial.Resolve(ctx, k)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	archive, err := b.images.get(ctx, vmtest.GuestArch(k), kind)
	if err != nil {
		return 0, err
	}
	return b.trivial.PowerOff(ctx, k, archive, dir)
}

func notify(f func(Sample), s Sample) {
	if f != nil {
		f(s)
	}
}

// passed returns the error that stops the benchmark when res did not pass.
func passed(name string, k Kind, res *vmtest.Result) error {
	if !res.Outcome.Passed() {
		return fmt.Errorf("bench %s: %s boot: %s: %s (report in %s)", name, k, res.Outcome, res.Reason, res.Dir)
	}
	return nil
}
