package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/hashicorp/go-multierror"

	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest"
	"github.com/corematrix/corematrix/vmtest/bench"
)

func init() {
	register("bench", "time bare boots, a trivial payload and the payload per kernel, side by side (a benchmark, not a test)", benchCmd)
}

func benchCmd(ctx context.Context, args []string) error {
	fs := newFlags("vmtest bench", "vmtest bench --kernels 5.10,6.1,latest [--runs 5] [flags] -- PAYLOAD [ARGS...]",
		"Boots each kernel to an /init of a few instructions that powers off (floor), to a busybox\n"+
			"/init that powers off (bare), with a payload that exits 0 (trivial) and with PAYLOAD (suite),\n"+
			"one boot at a time, and prints median times and the median of each run's ratios to its bare boot.\n"+
			"Without --kernels: 5.10,6.1,latest.")
	kl := addKernelFlag(fs, "kernels")
	runs := fs.Int("runs", 5, "boots of each kind per kernel (medians are reported)")
	reportDir := fs.String("report", "vmtest-bench", "report directory `DIR`: KERNEL/RUN/{floor,bare,trivial,suite}")
	vf := addVMFlags(fs)
	kf := addKernelFlags(fs)
	payload, err := fs.parse(args, false)
	if err != nil {
		return err
	}
	if len(payload) == 0 {
		return fs.failf("missing payload: the suite binary to time, after the flags (-- PAYLOAD ARGS...)")
	}
	if *runs < 1 {
		return fs.failf("--runs must be at least 1, got %d", *runs)
	}
	matrix := kl.kernels
	if matrix == nil {
		if matrix, err = parseKernels([]string{"5.10,6.1,latest"}); err != nil {
			return err
		}
	}
	cfg := vmtest.Config{
		Kernels: matrix,
		Payload: payload[0], Args: payload[1:],
		ReportDir: *reportDir, Jobs: 1,
	}
	vf.apply(&cfg)
	resolver, err := kf.resolverTo(os.Stderr)
	if err != nil {
		return usageError(err)
	}
	cfg.Resolver = resolver
	cfg.BusyboxFor = resolver.Busybox
	r, err := newRunner(cfg)
	if err != nil {
		return err
	}
	defer r.Close()

	var writeErrs []error
	ks, benchErr := bench.Run(ctx, r, *runs, func(s bench.Sample) {
		run := fmt.Sprintf("run %d ", s.Run)
		if s.Run == 0 {
			run = "warm-up"
		}
		fmt.Fprintf(os.Stderr, "%s %-8s %-8s %6.2fs wall %6.2fs qemu cpu\n", run, s.Kernel, s.Kind, s.Seconds, s.CPU)
		if s.Result != nil {
			if err := report.WriteKernel(s.Result.Dir, s.Result.KernelResult); err != nil {
				writeErrs = append(writeErrs, err)
			}
		}
	})
	printBench(os.Stdout, ks)
	fmt.Fprintf(os.Stderr, "reports in %s\n", *reportDir)
	if benchErr != nil {
		return exitWith(exitFail, multierror.Append(benchErr, writeErrs...))
	}
	return runExit(exitOK, writeErrs)
}

// printBench prints per kernel the median times of each kind and the median
// of each run's ratio to its bare boot, wall time and QEMU CPU time, then
// where the median suite verdict's time went.
func printBench(w io.Writer, ks []bench.Kernel) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNEL\tRUNS\tTIME\tFLOOR\tBARE\tTRIVIAL\tSHARED\tSUITE\tTRIVIAL/BARE\tSHARED/TRIVIAL\tSUITE/BARE")
	for _, k := range ks {
		fmt.Fprintf(tw, "%s\t%d\twall\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Name, len(k.Suite),
			secs(k.Floor), secs(k.Bare), secs(k.Trivial), secs(k.Shared), secs(k.Suite),
			ratio(k.Ratio(bench.Trivial)), ratio(k.SharedRatio()), ratio(k.Ratio(bench.Suite)))
		fmt.Fprintf(tw, "%s\t%d\tqemu cpu\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Name, len(k.Suite),
			secs(k.CPU[bench.Floor]), secs(k.CPU[bench.Bare]), secs(k.CPU[bench.Trivial]), secs(k.CPU[bench.Shared]), secs(k.CPU[bench.Suite]),
			ratio(k.CPURatio(bench.Trivial)), ratio(pairedCPU(k)), ratio(k.CPURatio(bench.Suite)))
	}
	tw.Flush()
	for _, k := range ks {
		if k.SharedMode != "" {
			fmt.Fprintf(w, "%s shared: %s\n", k.Name, k.SharedMode)
		}
	}
	for _, k := range ks {
		r := k.SuiteResult
		if r == nil {
			continue
		}
		t := r.Timings
		fmt.Fprintf(w, "\n%s suite verdict %.2fs (QEMU CPU %.2fs): boot to init %.2fs, init setup %.2fs, payload %.2fs, power-off %.2fs, resolve and host %.2fs\n",
			k.Name, t.Total, t.QEMUCPU, t.Boot, t.Setup, t.Payload, t.PowerOff, t.Total-t.Boot-t.Setup-t.Payload-t.PowerOff)
		var top []string
		for _, s := range t.Slowest {
			top = append(top, fmt.Sprintf("%s %.2fs", s.Name, s.Seconds))
		}
		if len(top) > 0 {
			fmt.Fprintf(w, "  slowest tests: %s\n", strings.Join(top, ", "))
		}
	}
}

// secs is the median of xs.
func secs(xs []float64) string { return fmt.Sprintf("%.2fs", bench.Median(xs)) }

// ratio formats a paired ratio (bench.Kernel.Ratio).
func ratio(r float64) string {
	if r <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

// pairedCPU is the median over runs of the shared boot's QEMU CPU time
// divided by the trivial boot's of the same run.
func pairedCPU(k bench.Kernel) float64 {
	return bench.Kernel{Trivial: k.CPU[bench.Trivial], Shared: k.CPU[bench.Shared]}.SharedRatio()
}
