package probes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/hashicorp/go-multierror"
)

// Attach point types of progDesc.
const (
	attachTracepoint    = "tracepoint"
	attachKprobe        = "kprobe"
	attachKretprobe     = "kretprobe"
	attachRawTracepoint = "raw_tracepoint"
)

type progDesc struct {
	name   string
	kind   Kind
	attach string // attach* constant
	target string // "group/name" for tracepoints, symbol for kprobes
}

// programTable lists every program of the object in load and attach order.
var programTable = []progDesc{
	{tracerProgTraceExec, KindExec, attachTracepoint, "sched/sched_process_exec"},
	{tracerProgTraceExit, KindExit, attachKprobe, "do_exit"},
	{tracerProgTraceOpen, KindOpen, attachKprobe, "vfs_open"},
	{tracerProgConnect4Entry, KindConnect, attachKprobe, "tcp_v4_connect"},
	{tracerProgConnect4Return, KindConnect, attachKretprobe, "tcp_v4_connect"},
	{tracerProgConnect6Entry, KindConnect, attachKprobe, "tcp_v6_connect"},
	{tracerProgConnect6Return, KindConnect, attachKretprobe, "tcp_v6_connect"},
	{tracerProgSchedSwitch, KindSched, attachRawTracepoint, "sched_switch"},
}

// ProgramInfo describes one program of the object and where it attaches.
type ProgramInfo struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Attach is "tracepoint", "kprobe", "kretprobe" or "raw_tracepoint".
	Attach string `json:"attach"`
	// Target is "group/name" for a tracepoint, the symbol for a k(ret)probe,
	// the tracepoint name for a raw tracepoint.
	Target string `json:"target"`
}

// Programs lists every program of the object, in load order.
func Programs() []ProgramInfo {
	out := make([]ProgramInfo, len(programTable))
	for i, d := range programTable {
		out[i] = ProgramInfo{d.name, d.kind, d.attach, d.target}
	}
	return out
}

// MapNames lists the maps of the object the tracer uses (besides .rodata).
func MapNames() []string {
	return []string{tracerMapEvents, tracerMapScratch, tracerMapDrops, tracerMapTargets, tracerMapConnectSk}
}

// AttachError reports one program that could not be attached.
type AttachError struct {
	Program string
	// Attach and Target are as in ProgramInfo.
	Attach string
	Target string
	Err    error
}

func (e *AttachError) Error() string {
	return fmt.Sprintf("attach %s to %s %s: %v", e.Program, e.Attach, e.Target, e.Err)
}

func (e *AttachError) Unwrap() error { return e.Err }

// Tracer is a loaded tracer. Read and ReadInto must not be called
// concurrently with each other; the other methods are safe for concurrent use.
type Tracer struct {
	coll   *ebpf.Collection
	progs  map[string]*ebpf.Program
	stats  []ProgramStat
	output Output

	mu       sync.Mutex
	links    map[string]link.Link
	closed   bool
	ring     *ringbuf.Reader
	perf     *perf.Reader
	ringRec  ringbuf.Record
	perfRec  perf.Record
	rec      Record
	events   atomic.Uint64
	decErrs  atomic.Uint64
	perfLost atomic.Uint64
}

// Output reports the channel in use.
func (t *Tracer) Output() Output { return t.output }

// Programs returns the load statistics of every loaded program.
func (t *Tracer) Programs() []ProgramStat { return append([]ProgramStat(nil), t.stats...) }

// Program returns the loaded program of that name, or nil.
func (t *Tracer) Program(name string) *ebpf.Program { return t.progs[name] }

// Attach attaches the programs of the given kinds (all loaded programs when
// none are given). It tries every program and returns every failure, each an
// *AttachError, aggregated with go-multierror; programs that attached stay
// attached. Attaching an already attached program is a no-op.
// Kprobes need CONFIG_KPROBES and the symbol present (not inlined).
// Tracepoints need tracefs: before attaching one, when neither tracefs nor
// debugfs is mounted, Attach mounts tracefs at /sys/kernel/tracing (see
// EnsureTracefs). Kprobes use the perf kprobe PMU (4.17+) and fall back to
// tracefs; the raw tracepoint needs neither.
func (t *Tracer) Attach(kinds ...Kind) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if t.links == nil {
		t.links = map[string]link.Link{}
	}
	var errs *multierror.Error
	for _, k := range kinds {
		if lookup(k) == nil {
			errs = multierror.Append(errs, fmt.Errorf("attach: unknown kind %d", uint32(k)))
		}
	}
	for _, d := range programTable {
		if len(kinds) > 0 && !containsKind(kinds, d.kind) {
			continue
		}
		if _, done := t.links[d.name]; done {
			continue
		}
		prog := t.progs[d.name]
		if prog == nil {
			if len(kinds) > 0 {
				errs = multierror.Append(errs, &AttachError{d.name, d.attach, d.target, errors.New("program not loaded (see Options.Kinds)")})
			}
			continue
		}
		if d.attach == attachTracepoint {
			if err := EnsureTracefs(); err != nil {
				errs = multierror.Append(errs, &AttachError{d.name, d.attach, d.target, err})
				continue
			}
		}
		l, err := attachOne(d, prog)
		if err != nil {
			errs = multierror.Append(errs, &AttachError{d.name, d.attach, d.target, classify(err)})
			continue
		}
		t.links[d.name] = l
	}
	return errs.ErrorOrNil()
}

func attachOne(d progDesc, prog *ebpf.Program) (link.Link, error) {
	switch d.attach {
	case attachTracepoint:
		group, name, _ := cut(d.target, '/')
		return link.Tracepoint(group, name, prog, nil)
	case attachKprobe:
		return link.Kprobe(d.target, prog, nil)
	case attachKretprobe:
		return link.Kretprobe(d.target, prog, nil)
	case attachRawTracepoint:
		return link.AttachRawTracepoint(link.RawTracepointOptions{Name: d.target, Program: prog})
	}
	return nil, fmt.Errorf("unknown attach type %q", d.attach)
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// Attached returns the names of the attached programs.
func (t *Tracer) Attached() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, d := range programTable {
		if _, ok := t.links[d.name]; ok {
			out = append(out, d.name)
		}
	}
	return out
}

// AddTargets adds tgids to the filter. It has an effect only when the tracer
// was loaded with Options.Targets or Options.Filter.
func (t *Tracer) AddTargets(tgids ...uint32) error {
	m := t.coll.Maps[tracerMapTargets]
	for _, tgid := range tgids {
		if err := m.Put(tgid, uint8(1)); err != nil {
			return fmt.Errorf("add target %d: %w", tgid, err)
		}
	}
	return nil
}

// RemoveTargets removes tgids from the filter; absent ones are ignored.
func (t *Tracer) RemoveTargets(tgids ...uint32) error {
	m := t.coll.Maps[tracerMapTargets]
	for _, tgid := range tgids {
		if err := m.Delete(tgid); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("remove target %d: %w", tgid, err)
		}
	}
	return nil
}

// Read waits for the next event and returns a copy of it. It returns
// ctx.Err() once ctx is done and ErrClosed after Close. A record that does not
// decode is returned as an error wrapping ErrTruncated or ErrUnknownKind; the
// reader stays usable.
func (t *Tracer) Read(ctx context.Context) (Event, error) {
	if err := t.ReadInto(ctx, &t.rec); err != nil {
		return nil, err
	}
	return t.rec.Clone(), nil
}

// ReadInto is Read without allocation: it decodes the next event into r.
func (t *Tracer) ReadInto(ctx context.Context, r *Record) error {
	raw, err := t.readRaw(ctx)
	if err != nil {
		return err
	}
	if err := Decode(raw, r); err != nil {
		t.decErrs.Add(1)
		return err
	}
	t.events.Add(1)
	return nil
}

func (t *Tracer) readRaw(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	var flush func() error
	if t.ring != nil {
		t.ring.SetDeadline(deadline)
		flush = t.ring.Flush
	} else {
		t.perf.SetDeadline(deadline)
		flush = t.perf.Flush
	}
	// Readers hold their lock while waiting, so cancel by flushing: the
	// reader drains what is there and then returns ErrFlushed.
	stop := context.AfterFunc(ctx, func() { _ = flush() })
	defer stop()
	for {
		var raw []byte
		var err error
		if t.ring != nil {
			err = t.ring.ReadInto(&t.ringRec)
			raw = t.ringRec.RawSample
		} else {
			err = t.perf.ReadInto(&t.perfRec)
			raw = t.perfRec.RawSample
			if err == nil && t.perfRec.LostSamples > 0 {
				t.perfLost.Add(t.perfRec.LostSamples)
				continue
			}
		}
		switch {
		case err == nil:
			return raw, nil
		case errors.Is(err, os.ErrClosed):
			return nil, ErrClosed
		case errors.Is(err, ringbuf.ErrFlushed), errors.Is(err, perf.ErrFlushed):
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// A flush left over from an earlier, cancelled call.
			continue
		case errors.Is(err, os.ErrDeadlineExceeded):
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, context.DeadlineExceeded
		}
		return nil, fmt.Errorf("read %s: %w", t.output, err)
	}
}

// Stats counts what the tracer delivered and lost.
type Stats struct {
	Output Output `json:"output"`
	// Events is the number of records decoded by Read/ReadInto.
	Events uint64 `json:"events"`
	// DecodeErrors is the number of records that did not decode.
	DecodeErrors uint64 `json:"decode_errors"`
	// RingbufDropped counts bpf_ringbuf_reserve failures (ring full), summed
	// over CPUs.
	RingbufDropped uint64 `json:"ringbuf_dropped"`
	// PerfLost is the sum of the LostSamples the kernel reported.
	PerfLost uint64 `json:"perf_lost"`
	// PerfOutputErrors counts bpf_perf_event_output failures, summed over
	// CPUs. The kernel reports these same drops as lost samples once the
	// reader catches up, so they are not added to Dropped.
	PerfOutputErrors uint64 `json:"perf_output_errors"`
}

// Dropped is the number of events known lost: RingbufDropped + PerfLost.
func (s Stats) Dropped() uint64 { return s.RingbufDropped + s.PerfLost }

// Stats reads the counters.
func (t *Tracer) Stats() (Stats, error) {
	s := Stats{
		Output:       t.output,
		Events:       t.events.Load(),
		DecodeErrors: t.decErrs.Load(),
		PerfLost:     t.perfLost.Load(),
	}
	drops := t.coll.Maps[tracerMapDrops]
	for i, dst := range []*uint64{&s.RingbufDropped, &s.PerfOutputErrors} {
		var perCPU []uint64
		if err := drops.Lookup(uint32(i), &perCPU); err != nil {
			return s, fmt.Errorf("read drop counter %d: %w", i, err)
		}
		for _, n := range perCPU {
			*dst += n
		}
	}
	return s, nil
}

// Close detaches every program, closes the reader and frees maps and
// programs. A blocked Read returns ErrClosed.
func (t *Tracer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	var errs *multierror.Error
	for name, l := range t.links {
		if err := l.Close(); err != nil {
			errs = multierror.Append(errs, fmt.Errorf("detach %s: %w", name, err))
		}
	}
	if t.ring != nil {
		if err := t.ring.Close(); err != nil {
			errs = multierror.Append(errs, fmt.Errorf("close ring buffer reader: %w", err))
		}
	}
	if t.perf != nil {
		if err := t.perf.Close(); err != nil {
			errs = multierror.Append(errs, fmt.Errorf("close perf reader: %w", err))
		}
	}
	for _, p := range t.progs {
		_ = p.Close()
	}
	if t.coll != nil {
		t.coll.Close()
	}
	return errs.ErrorOrNil()
}
