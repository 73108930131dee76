package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/corematrix/corematrix/kernels"
)

// parseKernels is the one parser of kernel lists on the command line
// (--kernels of run, core-report and report merge; the NAME arguments of
// kernels fetch and lock). Each of args is a name or a list separated by
// commas or blanks; every token must be a kernel name (kernels.ParseName) or
// one of also (core-report's "host"). A kernel listed twice is an error, and
// so is an empty list; the errors for a bad or missing name wrap
// kernels.ErrBadName.
func parseKernels(args []string, also ...string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, arg := range args {
		for _, tok := range strings.FieldsFunc(arg, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
			if !slices.Contains(also, tok) {
				if _, err := kernels.ParseName(tok); err != nil {
					return nil, err
				}
			}
			if seen[tok] {
				return nil, fmt.Errorf("kernel %q listed twice", tok)
			}
			seen[tok] = true
			out = append(out, tok)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty kernel list %q: %w", strings.Join(args, " "), kernels.ErrBadName)
	}
	return out, nil
}
