package corereport

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels"
	"github.com/corematrix/corematrix/kernels/cache"
	"github.com/corematrix/corematrix/kernels/kallsyms"
	"github.com/corematrix/corematrix/kernels/kerneltest"
)

// kernelFacts reads the config and kallsyms functions of kernel name as
// cmd/vmtest does (the package's config file; kallsyms from the image,
// through the shared cache).
func kernelFacts(t *testing.T, name string) *Facts {
	t.Helper()
	img := kerneltest.Image(t, name)
	dir, err := cache.DefaultDir()
	require.NoError(t, err)
	bc := kernelBTFCache(filepath.Join(dir, "btf"))
	raw, err := bc.Cached(img.Path, img.SHA256, kallsyms.FuncsFormat, kernels.ImageFuncs)
	require.NoError(t, err, "kallsyms of %s", name)
	var funcs kallsyms.Funcs
	require.NoError(t, funcs.UnmarshalText(raw))
	require.NotEmpty(t, img.ConfigPath, "kernel %s has no config file", name)
	cfg, err := os.ReadFile(img.ConfigPath)
	require.NoError(t, err)
	return &Facts{Config: kernels.ParseConfig(cfg), Funcs: &funcs}
}

// TestTargetsPredicted predicts testdata/targets.o, one program per attach
// pattern BTF alone cannot decide, on real kernels with their config and
// kallsyms. The expected cells are what `vmtest load` measured on those
// kernels (loaded, attached), so the test pins the prediction to the
// kernels' real behaviour: a syscall tracepoint attaches where the syscall
// exists, a kprobe reaches what kallsyms has (BTF or not), an fentry needs
// an ftrace call site, kprobe_multi needs CONFIG_FPROBE (Debian 6.1 has
// none), and a zero-sized map or a placeholder target needs user space.
func TestTargetsPredicted(t *testing.T) {
	btfs, _ := loadMatrixBTF(t)
	spec, err := ebpf.LoadCollectionSpec("testdata/targets.o")
	require.NoError(t, err)
	const (
		loads   = "loads"
		fails   = "FAILS"
		unknown = "unknown"
		attFail = "loads; attach FAILS"
		attUnk  = "loads; attach unknown"
	)
	want := map[string]map[string]string{
		"5.10": {
			"fentry_traceable": loads, "fentry_untraceable": loads, "kprobe_btf_only": loads,
			"kprobe_kallsyms_only": loads, "kprobe_multi": fails, "kprobe_placeholder": attUnk,
			"sys_enter_epoll_pwait2": attFail, "sys_enter_execve": loads, "sys_exit_getuid": loads, "uses_sized_map": unknown,
		},
		"6.1": {
			"fentry_traceable": loads, "fentry_untraceable": attFail, "kprobe_btf_only": loads,
			"kprobe_kallsyms_only": loads, "kprobe_multi": attFail, "kprobe_placeholder": attUnk,
			"sys_enter_epoll_pwait2": loads, "sys_enter_execve": loads, "sys_exit_getuid": loads, "uses_sized_map": unknown,
		},
		"6.12": {
			"fentry_traceable": loads, "fentry_untraceable": attFail, "kprobe_btf_only": attFail,
			"kprobe_kallsyms_only": loads, "kprobe_multi": loads, "kprobe_placeholder": attUnk,
			"sys_enter_epoll_pwait2": loads, "sys_enter_execve": loads, "sys_exit_getuid": loads, "uses_sized_map": unknown,
		},
		"latest": {
			"fentry_traceable": loads, "fentry_untraceable": fails, "kprobe_btf_only": loads,
			"kprobe_kallsyms_only": loads, "kprobe_multi": loads, "kprobe_placeholder": attUnk,
			"sys_enter_epoll_pwait2": loads, "sys_enter_execve": loads, "sys_exit_getuid": loads, "uses_sized_map": unknown,
		},
	}
	for _, name := range []string{"5.10", "6.1", "6.12", "latest"} {
		t.Run(name, func(t *testing.T) {
			res, err := RelocateWith(spec, btfs[name], kernelFacts(t, name), Options{})
			require.NoError(t, err)
			got := map[string]string{}
			for _, p := range res.Programs {
				got[p.Name] = ProgramCell{Verdict: p.Verdict, Loads: p.Loads, Load: p.Load, Attach: p.Attach}.Text()
			}
			assert.Equal(t, want[name], got)
		})
	}
}

// TestSyscallTracepointWithoutFacts checks the verdicts of syscall
// tracepoints when config or kallsyms is unknown: BTF's struct
// syscall_metadata stands for CONFIG_FTRACE_SYSCALLS, a syscall whose
// wrapper BTF lacks is unknown (not a failure), and a config without
// FTRACE_SYSCALLS fails every syscall event.
func TestSyscallTracepointWithoutFacts(t *testing.T) {
	btfs, _ := loadMatrixBTF(t)
	k := newKernelFeatures(btfs["6.1"], nil)
	for _, tc := range []struct {
		name  string
		facts *Facts
		event string
		want  Verdict
	}{
		{"wrapper in BTF", nil, "sys_enter_execve", Loads},
		{"wrapper not in BTF, kallsyms unknown", nil, "sys_exit_corematrix", Unknown},
		{"no such event kind", nil, "sys_foo_execve", Fails},
		{"config without FTRACE_SYSCALLS", &Facts{Config: map[string]string{"CONFIG_FTRACE_SYSCALLS": "n"}}, "sys_enter_execve", Fails},
		{"config silent on FTRACE_SYSCALLS", &Facts{Config: map[string]string{}}, "sys_enter_execve", Fails},
		{"no such syscall, kallsyms known", &Facts{Funcs: &kallsyms.Funcs{Count: map[string]int{}}}, "sys_enter_corematrix", Fails},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k.facts = tc.facts
			v, why := k.syscallTracepoint(tc.event)
			assert.Equal(t, tc.want, v, "why: %s", why)
		})
	}
}
