package bench

import (
	"slices"

	"github.com/corematrix/corematrix/vmtest"
)

// Kind is one of the boots a benchmark compares.
type Kind string

const (
	// Floor boots the kernel to an /init of a few instructions that
	// powers off: the least any boot costs.
	Floor Kind = "floor"
	// Bare boots the kernel to a busybox /init that powers off (a
	// shell script running `poweroff -f`): a bare boot as people script
	// one, and what the trivial and suite ratios divide by.
	Bare Kind = "bare"
	// Trivial runs a payload that exits 0 through the full guest init
	// and results protocol.
	Trivial Kind = "trivial"
	// Shared is Trivial with the host's files shared (what
	// `vmtest exec` does by default: virtiofs or 9p, the modules it needs
	// loaded, the overlays mounted); its ratio divides by the trivial boot
	// of the same run.
	Shared Kind = "shared"
	// Suite runs the configured payload.
	Suite Kind = "suite"
)

// Sample is one timed boot of a benchmark.
type Sample struct {
	Kernel  string
	Run     int // 1-based; 0 for the warm-up boot, which is not a sample
	Kind    Kind
	Seconds float64 // wall time until the verdict (QEMU exit for bare)
	CPU     float64 // CPU time QEMU used
	// Result is the verdict of a trivial or suite boot.
	Result *vmtest.Result
}

// Kernel is the benchmark of one kernel: every sample's wall time and
// QEMU CPU time per kind, and the suite verdict of median wall time (its
// Timings say where the time went).
type Kernel struct {
	Name                                string
	Floor, Bare, Trivial, Shared, Suite []float64
	// SharedMode is how the shared boots got their files (their
	// report's Sharing): a kernel that fell back to packing measures
	// nothing of sharing.
	SharedMode string
	// CPU holds the QEMU CPU seconds of every sample per kind.
	CPU         map[Kind][]float64
	SuiteResult *vmtest.Result
}

// Ratio returns the median over runs of kind's wall time divided by the bare
// boot's of the same run: each pair booted back to back, so that a host
// whose speed drifts between runs (shared CI machines do) moves both. 0 when
// there are no pairs.
func (k Kernel) Ratio(kind Kind) float64 {
	return pairedRatio(k.samples(kind), k.Bare)
}

// SharedRatio is the median over runs of the shared trivial boot's wall
// time divided by the trivial boot's of the same run: what sharing the
// host's files costs. 0 without pairs.
func (k Kernel) SharedRatio() float64 { return pairedRatio(k.Shared, k.Trivial) }

// CPURatio is Ratio of QEMU CPU times.
func (k Kernel) CPURatio(kind Kind) float64 {
	return pairedRatio(k.CPU[kind], k.CPU[Bare])
}

func (k Kernel) samples(kind Kind) []float64 {
	if w := k.walls(kind); w != nil {
		return *w
	}
	return nil
}

// walls returns where k keeps the wall times of kind (nil for no kind).
func (k *Kernel) walls(kind Kind) *[]float64 {
	switch kind {
	case Floor:
		return &k.Floor
	case Bare:
		return &k.Bare
	case Trivial:
		return &k.Trivial
	case Shared:
		return &k.Shared
	case Suite:
		return &k.Suite
	}
	return nil
}

// add records one sample of kind: its wall and QEMU CPU seconds.
func (k *Kernel) add(kind Kind, wall, cpu float64) {
	if w := k.walls(kind); w != nil {
		*w = append(*w, wall)
	}
	if k.CPU == nil {
		k.CPU = map[Kind][]float64{}
	}
	k.CPU[kind] = append(k.CPU[kind], cpu)
}

func pairedRatio(xs, base []float64) float64 {
	var rs []float64
	for i := range min(len(xs), len(base)) {
		if base[i] > 0 {
			rs = append(rs, xs[i]/base[i])
		}
	}
	return Median(rs)
}

// Median returns the median of xs (0 when empty).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianResult returns the result of median total time (the lower middle
// one of an even count).
func medianResult(rs []*vmtest.Result) *vmtest.Result {
	if len(rs) == 0 {
		return nil
	}
	s := slices.Clone(rs)
	slices.SortStableFunc(s, func(a, b *vmtest.Result) int {
		switch {
		case a.Timings.Total < b.Timings.Total:
			return -1
		case a.Timings.Total > b.Timings.Total:
			return 1
		}
		return 0
	})
	return s[(len(s)-1)/2]
}
