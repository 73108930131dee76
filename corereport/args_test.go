package corereport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/argread"
	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels/kerneltest"
)

// argsObject is argread's drift test object: vfs_unlink's dentry read as
// argument 2 on every kernel (drift), and picked by a CO-RE check
// (selected).
const argsObject = "../argread/testdata/args.o"

func argKernels(t *testing.T, names ...string) []argread.KernelBTF {
	t.Helper()
	var out []argread.KernelBTF
	for _, n := range names {
		out = append(out, argread.KernelBTF{Kernel: kernel.Kernel{Name: n}, BTF: kerneltest.BTF(t, n)})
	}
	return out
}

func TestMatrixArgs(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec(argsObject)
	require.NoError(t, err)
	ks := argKernels(t, "5.10", "6.1")
	m := NewMatrix(argsObject, []Column{{Kernel: kernel.Kernel{Name: "5.10"}}, {Kernel: kernel.Kernel{Name: "6.1"}}})
	require.NoError(t, m.CheckArgs(spec, ks))
	assert.Equal(t, 5, m.Args.Drifts(), "core_drift, coreread_drift, plain_drift, fentry_drift, fexit_drift")
	assert.Equal(t, "argument DRIFT across 5.10..6.1: 5 of 10 reads change type; 2 selected by CO-RE check, 1 unknown (see below)", m.Args.Summary)

	var b bytes.Buffer
	require.NoError(t, m.WriteTable(&b))
	table := squeeze(b.String())
	for _, want := range []string{
		"core_drift kprobe vfs_unlink arg 2 pt_regs.si (CO-RE) struct dentry * struct inode * DRIFT",
		"guarded kprobe vfs_unlink arg 3 ctx+96 (dx) (dead) struct dentry * selected by CO-RE check (not drift)",
		"missing kprobe corematrix_no_such_function arg 1 ctx+112 (di) ? ? unknown: corematrix_no_such_function not in the BTF of 5.10, 6.1 (absent or inlined)",
		"syscall_inner kprobe __x64_sys_unlinkat arg 1 pt_regs.di (CO-RE) const struct pt_regs * const struct pt_regs * stable",
		"core_drift DRIFT: kprobe vfs_unlink arg 2 via pt_regs.si (CO-RE): struct dentry * (arg 2) on 5.10; struct inode * (arg 2) on 6.1",
		"\n 5.10: int vfs_unlink(struct inode *dir, struct dentry *dentry, struct inode **delegated_inode)",
		"\n 6.1: int vfs_unlink(struct user_namespace *mnt_userns, struct inode *dir, struct dentry *dentry, struct inode **delegated_inode)",
	} {
		assert.Contains(t, table, want)
	}
	assert.NotContains(t, table, "guarded DRIFT")
	assert.NotContains(t, table, "reading no argument", "every program of args.o reads an argument")

	b.Reset()
	require.NoError(t, m.WriteMarkdown(&b))
	assert.Contains(t, b.String(), "| core_drift | kprobe `vfs_unlink` | arg 2 | `pt_regs.si (CO-RE)` | struct dentry * | struct inode * | **DRIFT** |")
	assert.Contains(t, b.String(), "  - `6.1: int vfs_unlink(struct user_namespace *mnt_userns,")

	b.Reset()
	require.NoError(t, m.WriteJSON(&b))
	var back struct {
		Args struct {
			Summary  string `json:"summary"`
			Findings []struct {
				Program string `json:"program"`
				Verdict string `json:"verdict"`
				Cells   []struct {
					Type  string `json:"type"`
					Proto string `json:"proto"`
				} `json:"cells"`
			} `json:"findings"`
		} `json:"args"`
	}
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	got := map[string]string{}
	for _, f := range back.Args.Findings {
		got[f.Program] = f.Verdict
		if f.Program == "plain_drift" {
			assert.Equal(t, "struct dentry *", f.Cells[0].Type)
			assert.True(t, strings.HasPrefix(f.Cells[1].Proto, "int vfs_unlink(struct user_namespace *"), f.Cells[1].Proto)
		}
	}
	assert.Equal(t, map[string]string{"core_drift": "DRIFT", "coreread_drift": "DRIFT", "plain_drift": "DRIFT", "fentry_drift": "DRIFT",
		"fexit_drift": "DRIFT", "guarded": "selected by CO-RE check (not drift)", "stable": "stable", "missing": "unknown", "syscall_inner": "stable"}, got)

	var protos []string
	for _, p := range m.Args.Prototypes {
		protos = append(protos, fmt.Sprintf("%s changed=%t", p.Function, p.Changed()))
	}
	assert.Equal(t, []string{"vfs_unlink changed=true", "corematrix_no_such_function changed=false", "do_exit changed=false", "__x64_sys_unlinkat changed=false"}, protos,
		"one per traced function, in program order (core_drift, ..., missing, ..., stable, syscall_inner)")

	r := m.Args.Report()
	assert.Equal(t, 5, r.Drift)
	assert.Equal(t, 1, r.Unknown)
	assert.Equal(t, m.Args.Summary, r.Summary)
	assert.Contains(t, r.Notes, "  5.10: int vfs_unlink(struct inode *dir, struct dentry *dentry, struct inode **delegated_inode)")
}

func TestDiffArgs(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec(argsObject)
	require.NoError(t, err)
	ks := argKernels(t, "5.10", "6.1")
	var cols []Column
	for _, k := range ks {
		res, err := Relocate(spec, k.BTF, Options{})
		require.NoError(t, err)
		cols = append(cols, Column{Kernel: kernel.Kernel{Name: k.Name}, Result: res})
	}
	m := NewMatrix(argsObject, cols)
	require.NoError(t, m.CheckArgs(spec, ks))
	d, err := m.Diff()
	require.NoError(t, err)
	require.Len(t, d.Prototypes, 1, "vfs_unlink changed; the function no kernel has did not")
	assert.Equal(t, "vfs_unlink", d.Prototypes[0].Function)
	var reads []string
	for _, f := range d.ArgReads {
		reads = append(reads, f.Program+" "+f.Label())
	}
	assert.ElementsMatch(t, []string{"core_drift arg 2", "coreread_drift arg 2", "plain_drift arg 2", "fentry_drift arg 2", "fexit_drift arg 4", "guarded arg 2", "guarded arg 3"}, reads)

	var b bytes.Buffer
	require.NoError(t, d.Write(&b, FormatTable))
	assert.Contains(t, squeeze(b.String()), "* arg 2 struct dentry *dentry struct inode *dir")
	assert.Contains(t, squeeze(b.String()), "core_drift kprobe vfs_unlink arg 2 pt_regs.si (CO-RE) struct dentry * struct inode * DRIFT")

	// The same kernel twice: nothing differs, prototypes included.
	m = NewMatrix(argsObject, []Column{cols[1], cols[1]})
	require.NoError(t, m.CheckArgs(spec, []argread.KernelBTF{ks[1], ks[1]}))
	d, err = m.Diff()
	require.NoError(t, err)
	assert.True(t, d.Empty())
}

// squeeze collapses runs of spaces, so that assertions on tables do not
// depend on column widths.
func squeeze(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}

// The second test object: drift through the stack and subprograms, reads a
// CO-RE check selects, a use the analysis cannot follow (unknown, with its
// reason) and a program that reads no argument (named, not dropped).
func TestMatrixArgsFlows(t *testing.T) {
	const obj = "../argread/testdata/flows.o"
	spec, err := ebpf.LoadCollectionSpec(obj)
	require.NoError(t, err)
	m := NewMatrix(obj, []Column{{Kernel: kernel.Kernel{Name: "5.10"}}, {Kernel: kernel.Kernel{Name: "6.1"}}})
	require.NoError(t, m.CheckArgs(spec, argKernels(t, "5.10", "6.1")))
	assert.Equal(t, "argument DRIFT across 5.10..6.1: 7 of 12 reads change type; 2 selected by CO-RE check, 1 dead on every kernel, 1 unknown (see below)", m.Args.Summary)
	var b bytes.Buffer
	require.NoError(t, m.WriteTable(&b))
	table := squeeze(b.String())
	for _, want := range []string{
		"helper_first kprobe vfs_unlink arg 2 ctx+104 (si) struct dentry * struct inode * DRIFT",
		"subprog_drift kprobe vfs_unlink arg 2 ctx+104 (si) in unlinked_ino() struct dentry * struct inode * DRIFT",
		"selected kprobe vfs_unlink arg 3 pt_regs.dx (CO-RE) (dead) struct dentry * selected by CO-RE check (not drift)",
		"computed kprobe vfs_unlink ? insn 5 (unknown) (unknown) unknown: context read at an offset computed at run time (on 5.10, 6.1)",
		"unused_read kprobe vfs_unlink arg 2 ctx+104 (si) (dead) (dead) dead on every kernel",
		"reading no argument (context passed to helpers only): context_only",
	} {
		assert.Contains(t, table, want)
	}
	b.Reset()
	require.NoError(t, m.WriteMarkdown(&b))
	assert.Contains(t, b.String(), "| selected | kprobe `vfs_unlink` | arg 2 | `pt_regs.si (CO-RE)` | struct dentry * | (dead) | selected by CO-RE check (not drift) |")
	r := m.Args.Report()
	assert.Equal(t, 7, r.Drift)
	assert.Equal(t, 1, r.Unknown)
}
