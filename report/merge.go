package report

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// ErrDuplicateKernel is returned (wrapped in a *DuplicateKernelError) by Merge
// when two reports hold the same kernel.
var ErrDuplicateKernel = errors.New("kernel reported more than once")

// DuplicateKernelError names the kernel that Merge found twice.
type DuplicateKernelError struct {
	Kernel string
}

func (e *DuplicateKernelError) Error() string {
	return fmt.Sprintf("kernel %q reported more than once", e.Kernel)
}

// Unwrap makes errors.Is(err, ErrDuplicateKernel) hold.
func (e *DuplicateKernelError) Unwrap() error { return ErrDuplicateKernel }

// Merge combines the summaries of shard runs into one.
//
// Kernels are identified by Kernel.Name. A kernel present in two summaries is
// an error (*DuplicateKernelError): picking one of the two could hide a failure
// and the matrix never runs a kernel twice, so a duplicate means the shards
// were set up wrong. Kernels are ordered version-aware (see SortKernels): 5.4 <
// 5.10 < 6.1 < 6.12, names without a version last. Started is the earliest
// start, Finished the latest finish; Payload is the payloads of the shards,
// distinct ones joined by ", " in order of first appearance.
func Merge(sums ...Summary) (Summary, error) {
	var out Summary
	seen := map[string]bool{}
	var payloads []string
	for _, s := range sums {
		if !s.Started.IsZero() && (out.Started.IsZero() || s.Started.Before(out.Started)) {
			out.Started = s.Started
		}
		if s.Finished.After(out.Finished) {
			out.Finished = s.Finished
		}
		if s.Payload != "" && !slices.Contains(payloads, s.Payload) {
			payloads = append(payloads, s.Payload)
		}
		for _, k := range s.Kernels {
			if seen[k.Kernel.Name] {
				return Summary{}, fmt.Errorf("merge reports: %w", &DuplicateKernelError{Kernel: k.Kernel.Name})
			}
			seen[k.Kernel.Name] = true
			out.Kernels = append(out.Kernels, k)
		}
	}
	out.Payload = strings.Join(payloads, ", ")
	out.Args = mergeArgs(sums)
	SortKernels(out.Kernels)
	return out, nil
}

// mergeArgs keeps the argument checks of the merged summaries: the one
// check when all that have one agree (a merge of a run's own directories),
// else each distinct one, their counts added, marked as checked apart (a
// shard checks only its own kernels: a drift between two shards' kernels
// is not seen).
func mergeArgs(sums []Summary) *Args {
	var distinct []*Args
	for _, s := range sums {
		if s.Args != nil && !slices.ContainsFunc(distinct, func(a *Args) bool { return reflect.DeepEqual(a, s.Args) }) {
			distinct = append(distinct, s.Args)
		}
	}
	switch len(distinct) {
	case 0:
		return nil
	case 1:
		a := *distinct[0]
		return &a
	}
	out := &Args{}
	var summaries []string
	for _, a := range distinct {
		summaries = append(summaries, a.Summary)
		out.Drift += a.Drift
		out.Unknown += a.Unknown
		out.Notes = append(out.Notes, a.Notes...)
	}
	out.Summary = strings.Join(summaries, "; ") + " (checked per shard; drift between shards is not compared)"
	return out
}

// normalize returns s with its kernels in report order, without touching the
// caller's slice.
func normalize(s Summary) Summary {
	s.Kernels = slices.Clone(s.Kernels)
	SortKernels(s.Kernels)
	return s
}
