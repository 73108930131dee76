package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/corematrix/corematrix/kernel"
)

// parseKernels is the one parser of kernel lists on the command line
// (--kernels of run, core-report and report merge; the NAME arguments of
// kernels fetch and lock). Each of args is a name or a list separated by
// commas or blanks; every token must be a kernel name (kernel.Parse) or one
// of also (core-report's "host", which becomes a Kernel of that name alone).
// A kernel listed twice (also as "6.1" and "6.1/amd64" on an amd64 host) is
// an error, and so is an empty list; the errors for a bad or missing name
// wrap kernel.ErrBadName.
func parseKernels(args []string, also ...string) ([]kernel.Kernel, error) {
	var out []kernel.Kernel
	seen := map[string]string{}
	for _, arg := range args {
		for _, tok := range strings.FieldsFunc(arg, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
			k, id := kernel.Kernel{Name: tok}, tok
			if !slices.Contains(also, tok) {
				var err error
				if k, err = kernel.Parse(tok); err != nil {
					return nil, err
				}
				id = k.Spec.Base() + "/" + string(k.Arch)
			}
			if first, ok := seen[id]; ok {
				if first == tok {
					return nil, fmt.Errorf("kernel %q listed twice", tok)
				}
				return nil, fmt.Errorf("kernel %q listed twice (also as %q)", tok, first)
			}
			seen[id] = tok
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty kernel list %q: %w", strings.Join(args, " "), kernel.ErrBadName)
	}
	return out, nil
}

// kernelNames returns the names of ks, in order.
func kernelNames(ks []kernel.Kernel) []string {
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.Name
	}
	return names
}
