package corereport

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/vmtest/report"
)

// Predict relocates the BPF object at objectPath against kernelBTF and
// predicts, per program, whether it loads on that kernel: a program fails
// when a poisoned CO-RE relocation is reachable. It is the offline half of
// the runner's agreement check.
func Predict(objectPath string, kernelBTF *btf.Spec) (*report.Prediction, error) {
	spec, err := ebpf.LoadCollectionSpec(objectPath)
	if err != nil {
		return nil, fmt.Errorf("predict %s: %w", objectPath, err)
	}
	res, err := Relocate(spec, kernelBTF)
	if err != nil {
		return nil, fmt.Errorf("predict %s: %w", objectPath, err)
	}
	return res.Prediction(), nil
}

// Prediction converts r to the report's data model.
func (r *Result) Prediction() *report.Prediction {
	p := &report.Prediction{Programs: make(map[string]bool, len(r.Programs))}
	for _, prog := range r.Programs {
		p.Programs[prog.Name] = prog.Loads
		if !prog.Loads {
			if p.Reasons == nil {
				p.Reasons = make(map[string]string)
			}
			p.Reasons[prog.Name] = prog.Reason
		}
	}
	return p
}
