package corematrix

// The import rules the packages' doc comments state ("must not import ...",
// "imports only the standard library"), checked against what each package
// really depends on, directly or not (go list -deps). A new rule goes here
// with the doc comment that states it.

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/corematrix/corematrix"

// importRule is what one package may depend on. Paths are relative to the
// module; "x/..." stands for x and every package below it.
type importRule struct {
	pkg string
	// not lists what pkg must not depend on.
	not []string
	// noOther forbids every other corematrix package but those in allow.
	noOther bool
	// stdOnly forbids everything outside the standard library but allow.
	stdOnly bool
	// allow lists what noOther or stdOnly still admit (for stdOnly: full
	// import paths outside the module, "x/..." patterns allowed).
	allow []string
	// tests: the rule covers the package's tests too (a package of tests).
	tests bool
}

var importRules = []importRule{
	// The identity of a kernel is the bottom of the house.
	{pkg: "kernel", stdOnly: true},
	{pkg: "internal/atomicfile", stdOnly: true},
	{pkg: "internal/termtext", stdOnly: true},
	{pkg: "internal/tinyelf", stdOnly: true},
	{pkg: "internal/beneath", stdOnly: true, allow: []string{"golang.org/x/sys/..."}},
	{pkg: "kernels/download", stdOnly: true},
	{pkg: "kernels/modules/modulestest", stdOnly: true},
	{pkg: "internal/workflow", stdOnly: true},
	{pkg: "kernels/armimage", noOther: true},
	{pkg: "vmtest/qemu", stdOnly: true},
	{pkg: "vmtest/initramfs", noOther: true},
	{pkg: "vmtest/wire", noOther: true},
	{pkg: "harness/broken", noOther: true},
	{pkg: "btfproto", noOther: true},
	{pkg: "corerelo", noOther: true},

	// Booting knows nothing of where images come from or of what runs in
	// the guest.
	{pkg: "vmtest", not: []string{"kernels/...", "corereport", "probes", "harness/..."}},
	{pkg: "vmtest/share", not: []string{"kernels/...", "report", "vmtest/guest"}},
	{pkg: "vmtest/display", not: []string{"kernels/...", "corereport", "probes", "harness/..."}},
	{pkg: "vmtest/bench", not: []string{"kernels/...", "corereport", "probes", "harness/..."}},
	{pkg: "vmtest/gotest", not: []string{"vmtest", "vmtest/qemu", "vmtest/initramfs", "vmtest/guest", "kernels/..."}},
	{pkg: "vmtest/guest", not: []string{"vmtest", "report", "kernels/...", "vmtest/qemu"}},
	// The guest init's binary half starts nothing of the host's.
	{pkg: "cmd/vmtest/internal/pid1", noOther: true, allow: []string{"vmtest/guest", "vmtest/guest/...", "vmtest/wire"}},

	// Where images come from knows nothing of tests or VMs.
	{pkg: "kernels", not: []string{"vmtest/...", "corereport", "probes", "harness/..."}},
	{pkg: "kernels/debian", not: []string{"kernels", "kernels/oci"}},
	{pkg: "kernels/oci", not: []string{"kernels", "kernels/debian"}},
	{pkg: "kernels/progress", noOther: true, allow: []string{"internal/termtext"}},
	{pkg: "kernels/bzimage", not: []string{"kernels", "kernels/cache", "kernels/debian", "kernels/oci", "kernels/download"}},

	// The shared model of a run belongs to neither side.
	// corpus reads Debian packages; it knows nothing of VMs or predictions.
	{pkg: "corpus", not: []string{"vmtest/...", "corereport", "probes", "harness/...", "kernels", "kernels/oci"}},
	{pkg: "report", not: []string{"vmtest/...", "kernels/...", "corereport", "probes", "harness/..."}},

	// Offline analysis boots nothing.
	// corereport may use kernels/kallsyms, a leaf, for its data type.
	{pkg: "corereport", not: []string{"kernels", "kernels/cache", "kernels/debian", "kernels/oci", "kernels/download", "vmtest/..."}},
	{pkg: "argread", not: []string{"kernels/...", "vmtest/...", "probes"}},

	// The tracer and its suite know nothing of VMs.
	{pkg: "probes", not: []string{"vmtest/...", "kernels/...", "corereport", "harness/..."}},
	{pkg: "harness/ground", not: []string{"probes", "vmtest/...", "kernels/..."}},
	{pkg: "harness", tests: true, not: []string{"vmtest", "vmtest/qemu", "vmtest/initramfs", "kernels", "kernels/cache", "kernels/debian", "kernels/oci", "kernels/download"}},
	{pkg: "cmd/tracer", not: []string{"vmtest/...", "kernels/...", "harness/..."}},
}

func TestImportRules(t *testing.T) {
	for _, r := range importRules {
		t.Run(r.pkg, func(t *testing.T) {
			deps := listDeps(t, r.pkg, r.tests)
			require.NotEmpty(t, deps, "go list -deps %s", r.pkg)
			assert.Empty(t, r.violations(deps), "%s breaks the import rule its doc comment states", r.pkg)
		})
	}
}

// violations returns what in deps (full import paths) r forbids.
func (r importRule) violations(deps []string) []string {
	var out []string
	for _, d := range deps {
		rel, inModule := strings.CutPrefix(d, module+"/")
		switch {
		case d == module+"/"+r.pkg:
		case inModule && matchAny(rel, r.not):
			out = append(out, rel)
		case inModule && (r.noOther || r.stdOnly) && !matchAny(rel, r.allow):
			out = append(out, rel+" (no other corematrix package)")
		case !inModule && r.stdOnly && !standard(d) && !matchAny(d, r.allow):
			out = append(out, d+" (the standard library only)")
		}
	}
	return out
}

// listDeps returns what pkg depends on, directly or not (with its tests'
// dependencies when tests is set).
func listDeps(t *testing.T, pkg string, tests bool) []string {
	args := []string{"list", "-deps", "-f", "{{.ImportPath}}"}
	if tests {
		args = append(args, "-test")
	}
	out, err := exec.Command("go", append(args, "./"+pkg)...).Output()
	require.NoError(t, err, "go %s ./%s", strings.Join(args, " "), pkg)
	var deps []string
	for d := range strings.FieldsSeq(string(out)) {
		if !strings.HasSuffix(d, ".test") && !strings.HasPrefix(d, "[") && !strings.HasSuffix(d, "]") {
			deps = append(deps, d)
		}
	}
	return deps
}

// matchAny reports whether path is one of patterns ("x/..." matching x and
// everything below it).
func matchAny(path string, patterns []string) bool {
	for _, p := range patterns {
		if base, ok := strings.CutSuffix(p, "/..."); ok {
			if path == base || strings.HasPrefix(path, base+"/") {
				return true
			}
		} else if path == p {
			return true
		}
	}
	return false
}

// standard reports whether an import path is the standard library's: its
// first element has no dot.
func standard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// TestImportRulesCatchViolations checks the checker with rules the module
// breaks on purpose: cmd/vmtest wires everything together.
func TestImportRulesCatchViolations(t *testing.T) {
	deps := listDeps(t, "cmd/vmtest", false)
	for _, tc := range []struct {
		rule importRule
		want string
	}{
		{importRule{pkg: "cmd/vmtest", not: []string{"kernels/..."}}, "kernels/debian"},
		{importRule{pkg: "cmd/vmtest", not: []string{"report"}}, "report"},
		{importRule{pkg: "cmd/vmtest", noOther: true, allow: []string{"kernels/..."}}, "vmtest (no other corematrix package)"},
		{importRule{pkg: "cmd/vmtest", stdOnly: true}, "golang.org/x/sys/unix (the standard library only)"},
	} {
		assert.Contains(t, tc.rule.violations(deps), tc.want, "rule %+v", tc.rule)
	}
	assert.Empty(t, importRule{pkg: "cmd/vmtest", not: []string{"kernelsx/..."}}.violations(deps))
	assert.False(t, matchAny("kernel", []string{"kernels/..."}))
	assert.True(t, matchAny("kernels", []string{"kernels/..."}))
}
