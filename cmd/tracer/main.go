// Command tracer loads the corematrix probes and prints what they see, as JSON
// lines or a table, until interrupted; then it prints the drop counters.
//
//	tracer [-events exec,exit,open,connect,sched] [-pid 123,456] [-perfbuf]
//	       [-format json|table] [-btf /path/to/vmlinux-or-btf]
//
// It needs root (or CAP_BPF+CAP_PERFMON), kernel 5.4+ with BTF (or -btf), and
// kprobes for exit, open and connect.
//
// It is a thin main over package probes: it must not import vmtest, kernels or
// harness.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/corematrix/corematrix/probes"
)

const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	kinds  []probes.Kind
	pids   []uint32
	perf   bool
	format string
	btf    string
	ring   int
	perfSz int
	count  int
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("tracer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	events := fs.String("events", "exec,exit,open,connect", "comma-separated events to trace: "+kindNames()+", or all")
	pids := fs.String("pid", "", "comma-separated process ids (tgids) to trace; empty traces every process")
	c := &config{}
	fs.BoolVar(&c.perf, "perfbuf", false, "use the perf event array even where the ring buffer exists (5.8+)")
	fs.StringVar(&c.format, "format", "json", "output format: json (one object per line) or table")
	fs.StringVar(&c.btf, "btf", "", "kernel BTF to relocate against (vmlinux ELF or raw BTF) instead of /sys/kernel/btf/vmlinux")
	fs.IntVar(&c.ring, "ring-size", 0, "ring buffer size in bytes (power of two); 0 = default")
	fs.IntVar(&c.perfSz, "perf-size", 0, "perf buffer size per CPU in bytes; 0 = default")
	fs.IntVar(&c.count, "count", 0, "exit after this many events (0 = until interrupted)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tracer [flags]\n\nLoads the corematrix CO-RE probes and prints events until SIGINT.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var err error
	if c.kinds, err = probes.ParseKinds(*events); err != nil {
		return nil, err
	}
	for p := range strings.SplitSeq(*pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("bad -pid %q", p)
		}
		c.pids = append(c.pids, uint32(n))
	}
	if c.format != "json" && c.format != "table" {
		return nil, fmt.Errorf("bad -format %q (want json or table)", c.format)
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "tracer: %v\n", err)
		return exitUsage
	}
	opts := probes.Options{
		ForcePerf:      c.perf,
		Targets:        c.pids,
		Kinds:          c.kinds,
		RingBufferSize: c.ring,
		PerfBufferSize: c.perfSz,
	}
	if c.btf != "" {
		if opts.KernelTypes, err = loadBTF(c.btf); err != nil {
			fmt.Fprintf(stderr, "tracer: %v\n", err)
			return exitFail
		}
	}
	tr, err := probes.Load(opts)
	if err != nil {
		fmt.Fprintf(stderr, "tracer: %s\n", explain(err))
		return exitFail
	}
	defer tr.Close()
	if err := tr.Attach(c.kinds...); err != nil {
		fmt.Fprintf(stderr, "tracer: %s\n", explain(err))
		if len(tr.Attached()) == 0 {
			return exitFail
		}
		fmt.Fprintf(stderr, "tracer: continuing with %s\n", strings.Join(tr.Attached(), ", "))
	}
	fmt.Fprintf(stderr, "tracer: %s output, programs %s; Ctrl-C to stop\n", tr.Output(), strings.Join(tr.Attached(), ", "))

	p := newPrinter(c.format, stdout)
	code := exitOK
	var r probes.Record
	for n := 0; c.count == 0 || n < c.count; n++ {
		err := tr.ReadInto(ctx, &r)
		if errors.Is(err, probes.ErrTruncated) || errors.Is(err, probes.ErrUnknownKind) {
			fmt.Fprintf(stderr, "tracer: %v\n", err)
			continue
		}
		if errors.Is(err, context.Canceled) {
			break
		}
		if err != nil {
			fmt.Fprintf(stderr, "tracer: %v\n", err)
			code = exitFail
			break
		}
		if err := p.print(r.Event()); err != nil {
			fmt.Fprintf(stderr, "tracer: write: %v\n", err)
			code = exitFail
			break
		}
	}
	st, err := tr.Stats()
	if err != nil {
		fmt.Fprintf(stderr, "tracer: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stderr, "tracer: %d events, %d dropped (ringbuf reserve failures %d, perf lost samples %d, perf output errors %d), %d undecodable\n",
		st.Events, st.Dropped(), st.RingbufDropped, st.PerfLost, st.PerfOutputErrors, st.DecodeErrors)
	return code
}

// explain adds what to do to the errors a user can fix.
func explain(err error) string {
	switch {
	case errors.Is(err, probes.ErrPrivileges):
		return err.Error() + "\n  run as root, or grant CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN before 5.8)"
	case errors.Is(err, probes.ErrNoBTF):
		return err.Error() + "\n  this kernel has no /sys/kernel/btf/vmlinux; pass -btf with the kernel's BTF (e.g. from btfhub or its vmlinux)"
	}
	return err.Error()
}

// kindNames lists every event kind's name, from the probes registry.
func kindNames() string {
	names := make([]string, len(probes.AllKinds))
	for i, k := range probes.AllKinds {
		names[i] = k.String()
	}
	return strings.Join(names, ", ")
}
