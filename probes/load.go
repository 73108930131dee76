package probes

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/hashicorp/go-multierror"
)

// Default buffer sizes.
const (
	// DefaultRingBufferSize is the ring buffer size in bytes (power of two).
	DefaultRingBufferSize = 1 << 20
	// DefaultPerfBufferSize is the perf buffer size per CPU in bytes.
	DefaultPerfBufferSize = 256 << 10
)

// Sentinel errors of Load; test with errors.Is.
var (
	// ErrNoBTF: the kernel exposes no BTF (/sys/kernel/btf/vmlinux) and
	// Options.KernelTypes was not given. CO-RE needs one of them.
	ErrNoBTF = errors.New("kernel BTF not available (need CONFIG_DEBUG_INFO_BTF or Options.KernelTypes)")
	// ErrPrivileges: the kernel refused a BPF operation for lack of
	// privileges (CAP_BPF/CAP_SYS_ADMIN, or unprivileged BPF disabled).
	ErrPrivileges = errors.New("insufficient privileges for BPF (run as root or with CAP_BPF+CAP_PERFMON)")
	// ErrClosed is returned by Read and ReadInto once the tracer is closed.
	ErrClosed = errors.New("tracer closed")
)

// Output is the channel records travel through.
type Output int

const (
	// OutputRingbuf is the BPF ring buffer. Requires kernel 5.8.
	OutputRingbuf Output = iota + 1
	// OutputPerf is a perf event array, one buffer per CPU. Any kernel.
	OutputPerf
)

// String returns "ringbuf" or "perf".
func (o Output) String() string {
	switch o {
	case OutputRingbuf:
		return "ringbuf"
	case OutputPerf:
		return "perf"
	}
	return "output(" + strconv.Itoa(int(o)) + ")"
}

// MarshalText encodes the output as its name.
func (o Output) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Options control Load. The zero value loads every program with the ring
// buffer where available, traces every process and uses the running
// kernel's BTF.
type Options struct {
	// ForcePerf uses the perf event array even on kernels with a ring buffer.
	ForcePerf bool
	// KernelTypes is the BTF to relocate against instead of
	// /sys/kernel/btf/vmlinux (e.g. BTF read from a vmlinux or btfhub file).
	KernelTypes *btf.Spec
	// Targets restricts tracing to these tgids. Empty (and Filter unset)
	// means every process is traced.
	Targets []uint32
	// Filter turns the tgid filter on even when Targets is empty, so that
	// AddTargets can enable processes later.
	Filter bool
	// Kinds selects the programs to load; nil loads all of them.
	Kinds []Kind
	// RingBufferSize is the ring buffer size in bytes: a power of two and a
	// multiple of the page size. Zero means DefaultRingBufferSize.
	RingBufferSize int
	// PerfBufferSize is the perf buffer size per CPU in bytes, rounded up to
	// pages. Zero means DefaultPerfBufferSize.
	PerfBufferSize int
}

// ProgramStat is the load verdict and verifier statistics of one program.
type ProgramStat struct {
	Name   string `json:"name"`
	Kind   Kind   `json:"kind"`
	Loaded bool   `json:"loaded"`
	// Err is why the program did not load (a *COREError for a CO-RE failure).
	Err error `json:"-"`
	// Error is Err's text.
	Error string `json:"error,omitempty"`
	// VerifiedInsns is the number of instructions the verifier processed:
	// from the verifier's "processed N insns" line (kernel 5.2+), else from
	// bpf_prog_info (kernel 5.16+); 0 when neither is available.
	VerifiedInsns uint32 `json:"verified_insns,omitempty"`
	// LoadTime is the wall time of the BPF_PROG_LOAD call that succeeded or
	// failed last (CO-RE relocation and verification included).
	LoadTime time.Duration `json:"load_ns"`
	// VerifierStats is the verifier's summary line, when it printed one.
	VerifierStats string `json:"verifier_stats,omitempty"`
}

// COREError reports a program that failed to load because of a CO-RE
// relocation: a field or type its unguarded code needs is missing from the
// kernel's BTF, so the loader poisoned the instruction and the verifier
// refused it, or the relocation could not be computed at all.
type COREError struct {
	// Program is the program's name.
	Program string
	// Relocation describes the failing relocation, e.g.
	// `field_byte_offset task_struct.start_boottime (insn 12: e->start_ns = ...)`.
	Relocation string
	// Err is the loader's error.
	Err error
}

func (e *COREError) Error() string {
	return fmt.Sprintf("program %s: CO-RE relocation %s: %v", e.Program, e.Relocation, e.Err)
}

func (e *COREError) Unwrap() error { return e.Err }

// LoadError is returned by Load when at least one selected program did not
// load. Programs holds the statistics of every selected program, loaded or
// not; Err aggregates the failures (errors.As finds each *COREError).
type LoadError struct {
	Programs []ProgramStat
	Err      error
}

func (e *LoadError) Error() string {
	var failed []string
	for _, p := range e.Programs {
		if !p.Loaded {
			failed = append(failed, p.Name)
		}
	}
	return fmt.Sprintf("load programs %s: %v", strings.Join(failed, ", "), e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// parsed is the embedded CollectionSpec, parsed on first use: parsing the
// object (ELF, BTF, line info) costs several times a copy.
var parsed struct {
	once sync.Once
	spec *ebpf.CollectionSpec
	err  error
}

// Spec returns a fresh copy of the embedded CollectionSpec.
func Spec() (*ebpf.CollectionSpec, error) {
	parsed.once.Do(func() { parsed.spec, parsed.err = loadTracer() })
	if parsed.err != nil {
		return nil, parsed.err
	}
	return parsed.spec.Copy(), nil
}

// Object returns the embedded ELF object (the bytes of ObjectName). The
// caller must not modify it.
func Object() []byte { return _TracerBytes }

// SetOutput rewrites spec for the given output: for OutputPerf the "events"
// map becomes a perf event array (the libbpf-tools pattern), for
// OutputRingbuf a ring buffer of size bytes (0 keeps the size in spec), and
// the program constant use_ringbuf follows.
func SetOutput(spec *ebpf.CollectionSpec, out Output, size int) error {
	m := spec.Maps[tracerMapEvents]
	if m == nil {
		return fmt.Errorf("spec has no map %q", tracerMapEvents)
	}
	switch out {
	case OutputPerf:
		m.Type = ebpf.PerfEventArray
		m.KeySize, m.ValueSize, m.MaxEntries = 4, 4, 0
	case OutputRingbuf:
		m.Type = ebpf.RingBuf
		m.KeySize, m.ValueSize = 0, 0
		if size != 0 {
			if size < os.Getpagesize() || size&(size-1) != 0 {
				return fmt.Errorf("ring buffer size %d: not a power of two of at least a page", size)
			}
			m.MaxEntries = uint32(size)
		}
	default:
		return fmt.Errorf("unknown output %d", out)
	}
	return setVar(spec, tracerVarUseRingbuf, out == OutputRingbuf)
}

func setVar(spec *ebpf.CollectionSpec, name string, v any) error {
	vs := spec.Variables[name]
	if vs == nil {
		return fmt.Errorf("spec has no variable %q", name)
	}
	if err := vs.Set(v); err != nil {
		return fmt.Errorf("set %s: %w", name, err)
	}
	return nil
}

// chooseOutput picks the ring buffer when the kernel has it, the BTF the
// programs are relocated against says so too (the programs decide with
// bpf_core_type_exists(struct bpf_ringbuf)), and perf is not forced.
func chooseOutput(force bool, kt *btf.Spec) (Output, error) {
	if force {
		return OutputPerf, nil
	}
	var rb *btf.Struct
	if err := kt.TypeByName("bpf_ringbuf", &rb); err != nil {
		return OutputPerf, nil
	}
	err := features.HaveMapType(ebpf.RingBuf)
	switch {
	case err == nil:
		return OutputRingbuf, nil
	case errors.Is(err, ebpf.ErrNotSupported):
		return OutputPerf, nil
	}
	return 0, classify(fmt.Errorf("probe ring buffer support: %w", err))
}

// classify wraps permission failures in ErrPrivileges.
func classify(err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w: %w", ErrPrivileges, err)
	}
	return err
}

// Load loads the selected programs and every map into the kernel and opens
// the reader. Requires kernel 5.4 with BTF (or Options.KernelTypes), and
// CAP_BPF+CAP_PERFMON or root. Programs are loaded one by one, so that one
// failing program does not hide the statistics of the others: if any fails,
// Load returns a *LoadError and no Tracer. Nothing is attached yet; call
// Attach.
func Load(opts Options) (*Tracer, error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, classify(fmt.Errorf("remove memlock rlimit: %w", err))
	}
	kt := opts.KernelTypes
	if kt == nil {
		var err error
		if kt, err = btf.LoadKernelSpec(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoBTF, err)
		}
	}
	out, err := chooseOutput(opts.ForcePerf, kt)
	if err != nil {
		return nil, err
	}
	spec, err := configuredSpec(opts, out)
	if err != nil {
		return nil, err
	}
	// Maps first (and .rodata with the constants above, frozen).
	mapSpec := spec.Copy()
	mapSpec.Programs = nil
	coll, err := ebpf.NewCollection(mapSpec)
	if err != nil {
		return nil, classify(fmt.Errorf("create maps: %w", err))
	}
	t := &Tracer{coll: coll, output: out, progs: map[string]*ebpf.Program{}}
	if err := t.load(spec, kt, opts); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// configuredSpec returns the tracer's spec with its output map set to out
// and its constants set from opts.
func configuredSpec(opts Options, out Output) (*ebpf.CollectionSpec, error) {
	spec, err := Spec()
	if err != nil {
		return nil, err
	}
	ringSize := opts.RingBufferSize
	if ringSize == 0 {
		ringSize = DefaultRingBufferSize
	}
	if err := SetOutput(spec, out, ringSize); err != nil {
		return nil, err
	}
	if err := setVar(spec, tracerVarFilterTgids, opts.Filter || len(opts.Targets) > 0); err != nil {
		return nil, err
	}
	return spec, nil
}

// load fills the maps of t's collection, loads the programs opts asks for
// (a *LoadError names every one that failed) and opens the event reader.
func (t *Tracer) load(spec *ebpf.CollectionSpec, kt *btf.Spec, opts Options) error {
	for _, tgid := range opts.Targets {
		if err := t.coll.Maps[tracerMapTargets].Put(tgid, uint8(1)); err != nil {
			return fmt.Errorf("add target %d: %w", tgid, err)
		}
	}
	kinds := opts.Kinds
	if kinds == nil {
		kinds = AllKinds
	}
	var errs *multierror.Error
	for _, d := range programTable {
		if !containsKind(kinds, d.kind) {
			continue
		}
		st, prog := loadProgram(spec, d, t.coll, kt)
		t.stats = append(t.stats, st)
		if st.Err != nil {
			errs = multierror.Append(errs, st.Err)
			continue
		}
		t.progs[d.name] = prog
	}
	if err := errs.ErrorOrNil(); err != nil {
		return &LoadError{Programs: t.Programs(), Err: err}
	}
	var err error
	switch t.output {
	case OutputRingbuf:
		t.ring, err = ringbuf.NewReader(t.coll.Maps[tracerMapEvents])
	case OutputPerf:
		size := opts.PerfBufferSize
		if size == 0 {
			size = DefaultPerfBufferSize
		}
		t.perf, err = perf.NewReader(t.coll.Maps[tracerMapEvents], size)
	}
	if err != nil {
		return classify(fmt.Errorf("open %s reader: %w", t.output, err))
	}
	return nil
}

func containsKind(ks []Kind, k Kind) bool {
	return slices.Contains(ks, k)
}

var processedRE = regexp.MustCompile(`processed (\d+) insns`)

// loadProgram loads one program against the already created maps and
// records its statistics.
func loadProgram(spec *ebpf.CollectionSpec, d progDesc, coll *ebpf.Collection, kt *btf.Spec) (ProgramStat, *ebpf.Program) {
	st := ProgramStat{Name: d.name, Kind: d.kind}
	fail := func(err error) (ProgramStat, *ebpf.Program) {
		st.Err = err
		st.Error = err.Error()
		return st, nil
	}
	ps := spec.Programs[d.name]
	if ps == nil {
		return fail(fmt.Errorf("program %s: not in the object", d.name))
	}
	ps = ps.Copy()
	for i := range ps.Instructions {
		ins := &ps.Instructions[i]
		if !ins.IsLoadFromMap() || ins.Reference() == "" {
			continue
		}
		m := coll.Maps[ins.Reference()]
		if m == nil {
			return fail(fmt.Errorf("program %s: map %s not created", d.name, ins.Reference()))
		}
		if err := ins.AssociateMap(m); err != nil {
			return fail(fmt.Errorf("program %s: map %s: %w", d.name, ins.Reference(), err))
		}
	}

	popts := ebpf.ProgramOptions{LogLevel: ebpf.LogLevelStats, KernelTypes: kt}
	start := time.Now()
	prog, err := ebpf.NewProgramWithOptions(ps, popts)
	st.LoadTime = time.Since(start)
	if err != nil {
		// Load again with the default log settings: cilium/ebpf then
		// retries with the verifier's instruction log, which names the
		// failing instruction. (It also covers a kernel that would refuse
		// the stats log level.)
		popts.LogLevel = 0
		start = time.Now()
		prog, err = ebpf.NewProgramWithOptions(ps, popts)
		st.LoadTime = time.Since(start)
		if err != nil {
			return fail(explain(d.name, ps, spec.Types, kt, err))
		}
	}
	st.Loaded = true
	if m := processedRE.FindStringSubmatch(prog.VerifierLog); m != nil {
		n, _ := strconv.ParseUint(m[1], 10, 32)
		st.VerifiedInsns = uint32(n)
		for line := range strings.SplitSeq(prog.VerifierLog, "\n") {
			if strings.HasPrefix(line, "processed ") {
				st.VerifierStats = strings.TrimSpace(line)
			}
		}
	}
	if st.VerifiedInsns == 0 {
		if info, err := prog.Info(); err == nil {
			if n, ok := info.VerifiedInstructions(); ok {
				st.VerifiedInsns = n
			}
		}
	}
	return st, prog
}
