package corereport

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/argread"
	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
)

// Predict relocates the BPF object at objectPath against kernelBTF and
// predicts, per program, whether it loads on that kernel: a program fails
// when a poisoned CO-RE relocation is reachable, or the kernel lacks a
// helper, kfunc, type or attach target it needs. It is the offline half of
// the runner's agreement check.
func Predict(objectPath string, kernelBTF *btf.Spec, opts Options) (*report.Prediction, error) {
	spec, err := ebpf.LoadCollectionSpec(objectPath)
	if err != nil {
		return nil, fmt.Errorf("predict %s: %w", objectPath, err)
	}
	res, err := Relocate(spec, kernelBTF, opts)
	if err != nil {
		return nil, fmt.Errorf("predict %s: %w", objectPath, err)
	}
	return res.Prediction(), nil
}

// Prediction converts r to the report's data model: the load verdict of
// each program (Programs and Reasons when known, Unknown otherwise) and, for
// a program predicted to load, any attach failure or doubt (Attach).
func (r *Result) Prediction() *report.Prediction {
	p := &report.Prediction{Programs: make(map[string]bool, len(r.Programs))}
	set := func(m *map[string]string, k, v string) {
		if *m == nil {
			*m = make(map[string]string)
		}
		(*m)[k] = v
	}
	for _, prog := range r.Programs {
		v, why := verdictOf(prog.Findings, StageLoad)
		switch v {
		case Loads:
			p.Programs[prog.Name] = true
		case Fails:
			p.Programs[prog.Name] = false
			set(&p.Reasons, prog.Name, why)
			if p.Causes == nil {
				p.Causes = make(map[string][]string)
			}
			for _, f := range prog.Findings {
				if f.Stage == StageLoad && f.Verdict == Fails && !slices.Contains(p.Causes[prog.Name], string(f.Check)) {
					p.Causes[prog.Name] = append(p.Causes[prog.Name], string(f.Check))
				}
			}
			continue
		case Unknown:
			set(&p.Unknown, prog.Name, why)
		}
		if v, why := verdictOf(prog.Findings, StageAttach); v != Loads {
			set(&p.Attach, prog.Name, string(v)+": "+why)
		}
	}
	return p
}

// Predictor predicts the load outcome of one object on many kernels: it
// reads the object once and each kernel's BTF through a BTFCache. It is safe
// for concurrent use, so a runner can call it from every kernel's goroutine.
type Predictor struct {
	object string
	cache  *BTFCache
	opts   Options
	mu     sync.Mutex // guards spec: relocation reads its lazily decoded BTF
	spec   *ebpf.CollectionSpec
}

// NewPredictor reads the BPF object at objectPath. A nil cache reads BTF and
// ELF files only, without caching (see BTFCache).
func NewPredictor(objectPath string, cache *BTFCache, opts Options) (*Predictor, error) {
	spec, err := ebpf.LoadCollectionSpec(objectPath)
	if err != nil {
		return nil, fmt.Errorf("predict %s: %w", objectPath, err)
	}
	if cache == nil {
		cache = &BTFCache{}
	}
	return &Predictor{object: objectPath, cache: cache, opts: opts, spec: spec}, nil
}

// Predict relocates the object against the image of the resolved kernel k
// (its SHA256 may be empty: the image is then hashed when caching) and
// predicts each program's load outcome, with its config and kallsyms where
// the cache reads them (BTFCache.Facts). ctx is not used: reading BTF is
// local work.
func (p *Predictor) Predict(_ context.Context, k kernel.Kernel) (*report.Prediction, error) {
	spec, err := p.cache.Load(k.Path, k.SHA256)
	if err != nil {
		return nil, fmt.Errorf("predict %s: %w", p.object, err)
	}
	facts := p.cache.Facts(k)
	p.mu.Lock()
	res, err := RelocateWith(p.spec, spec, facts, p.opts)
	p.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("predict %s: %w", p.object, err)
	}
	return res.Prediction(), nil
}

// Args runs the argument check (CheckArgs) of the object over the resolved
// kernels, in order, reading their BTF through the cache.
func (p *Predictor) Args(kernels []kernel.Kernel) (*Args, error) {
	var withBTF []argread.KernelBTF
	for _, k := range kernels {
		spec, err := p.cache.Load(k.Path, k.SHA256)
		if err != nil {
			return nil, fmt.Errorf("argument check of %s: kernel %s: %w", p.object, k.Name, err)
		}
		withBTF = append(withBTF, argread.KernelBTF{Kernel: k, BTF: spec})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return CheckArgs(p.spec, withBTF)
}

// ObjectForArch returns the build of the BPF object at path for kernels of
// arch: bpf2go names its per-architecture outputs NAME_x86_bpfel.o and
// NAME_arm64_bpfel.o, so for arm64 an object named *_x86_bpfel.o is
// replaced by its *_arm64_bpfel.o sibling when that exists (and the other
// way round for amd64). Any other object is used for every architecture.
func ObjectForArch(path, arch string) string {
	from, to := "_arm64_bpfel.o", "_x86_bpfel.o"
	if arch == "arm64" {
		from, to = to, from
	}
	if !strings.HasSuffix(path, from) {
		return path
	}
	alt := strings.TrimSuffix(path, from) + to
	if _, err := os.Stat(alt); err != nil {
		return path
	}
	return alt
}
