package corereport

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/harness/broken"
	"github.com/corematrix/corematrix/kernels/cache"
	"github.com/corematrix/corematrix/kernels/kerneltest"
	"github.com/corematrix/corematrix/probes"
)

// matrixKernels is the default matrix of the Makefile.
var matrixKernels = []string{"5.10", "6.1", "6.12", "6.18", "latest"}

var (
	matrixOnce sync.Once
	matrixBTF  map[string]*btf.Spec
	matrixVer  map[string][2]int
	matrixErr  error
)

// loadMatrixBTF returns the BTF and major.minor of every kernel of the
// default matrix, through the shared BTF cache that vmtest core-report uses
// (extracted from the image on first use).
func loadMatrixBTF(t *testing.T) (map[string]*btf.Spec, map[string][2]int) {
	t.Helper()
	imgs := map[string]string{}
	sums := map[string]string{}
	vers := map[string][2]int{}
	for _, name := range matrixKernels {
		img := kerneltest.Image(t, name)
		imgs[name], sums[name] = img.Path, img.SHA256
		var v [2]int
		_, err := fmt.Sscanf(img.Version, "%d.%d", &v[0], &v[1])
		require.NoError(t, err, "version %q of %s", img.Version, name)
		vers[name] = v
	}
	matrixOnce.Do(func() {
		dir, err := cache.DefaultDir()
		if err != nil {
			matrixErr = err
			return
		}
		bc := kernelBTFCache(filepath.Join(dir, "btf"))
		matrixBTF = map[string]*btf.Spec{}
		for _, name := range matrixKernels {
			spec, err := bc.Load(imgs[name], sums[name])
			if err != nil {
				matrixErr = fmt.Errorf("btf of %s: %w", name, err)
				return
			}
			matrixBTF[name] = spec
		}
	})
	require.NoError(t, matrixErr)
	return matrixBTF, vers
}

// TestBrokenVariantsPredicted predicts every broken tracer build (package
// harness/broken) on the BTF of every kernel of the default matrix and
// requires the verdict the variant is built to get: its program fails
// where the kernel lacks what it uses (a kprobe target BTF lacks is unknown,
// not a failure) and every other program loads. TestBrokenTracerCaught
// confirms the same verdicts by loading the objects in those kernels.
func TestBrokenVariantsPredicted(t *testing.T) {
	kernels, vers := loadMatrixBTF(t)
	for _, v := range broken.Variants() {
		spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(v.Object))
		require.NoError(t, err)
		for _, name := range matrixKernels {
			t.Run(v.Name+"/"+name, func(t *testing.T) {
				ver := vers[name]
				atLeast := func(major, minor int) bool {
					return ver[0] > major || ver[0] == major && ver[1] >= minor
				}
				want := Loads
				if v.FailsOn(atLeast) {
					want = Fails
					if v.Kind == broken.KprobeTarget {
						want = Unknown
					}
				}
				res, err := Relocate(spec, kernels[name], Options{MapFallbacks: probes.MapFallbacks})
				require.NoError(t, err)
				for _, p := range res.Programs {
					if p.Name != v.Program {
						assert.Equal(t, Loads, p.Verdict, "%s on %s: %s", p.Name, name, p.Reason)
						continue
					}
					assert.Equal(t, want, p.Verdict, "%s on %s (%d.%d): %s", p.Name, name, ver[0], ver[1], p.Reason)
					if want != Loads {
						// A field is named with its flavor: task_struct___pre514.state.
						what := v.Uses[strings.LastIndex(v.Uses, ".")+1:]
						assert.Contains(t, p.Reason, what, "the reason does not name what %s lacks", name)
					}
					pred := res.Prediction()
					loads, known := pred.Programs[p.Name]
					switch {
					case want == Loads:
						assert.True(t, known && loads, "prediction of %s on %s: %+v", p.Name, name, pred)
						assert.Empty(t, pred.Attach[p.Name])
					case v.Stage == broken.Load:
						assert.True(t, known && !loads, "prediction of %s on %s: %+v", p.Name, name, pred)
					default:
						assert.True(t, known && loads, "load prediction of %s on %s: %+v", p.Name, name, pred)
						assert.True(t, strings.HasPrefix(pred.Attach[p.Name], string(want)+": "), "attach prediction of %s on %s: %+v", p.Name, name, pred)
					}
				}
			})
		}
	}
}

// TestTracerPredictedEverywhere: the real tracer loads on every kernel of
// the default matrix, and no check of it is unknown there.
func TestTracerPredictedEverywhere(t *testing.T) {
	kernels, _ := loadMatrixBTF(t)
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(probes.Object()))
	require.NoError(t, err)
	for _, name := range matrixKernels {
		res, err := Relocate(spec, kernels[name], Options{MapFallbacks: probes.MapFallbacks})
		require.NoError(t, err)
		for _, p := range res.Programs {
			assert.Equal(t, Loads, p.Verdict, "%s on %s: %s", p.Name, name, p.Reason)
			assert.NotEmpty(t, p.Findings, "%s on %s: nothing checked", p.Name, name)
		}
	}
}

// syntheticKernel is BTF with the UAPI enums of a small imaginary kernel:
// helpers 1 (map_lookup_elem), 4 (probe_read), 6 (trace_printk) and 45
// (probe_read_str); program types kprobe, tracepoint and tracing; map
// types hash and perf event array; attach type fentry; the function
// vfs_open and the tracepoint sched_switch.
func syntheticKernel(t *testing.T) *btf.Spec {
	t.Helper()
	enum := func(name, prefix string, values map[string]uint64) *btf.Enum {
		e := &btf.Enum{Name: name, Size: 4}
		for n, v := range values {
			e.Values = append(e.Values, btf.EnumValue{Name: prefix + n, Value: v})
		}
		return e
	}
	proto := &btf.FuncProto{Return: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}}
	types := []btf.Type{
		enum("bpf_func_id", "BPF_FUNC_", map[string]uint64{"unspec": 0, "map_lookup_elem": 1, "probe_read": 4, "trace_printk": 6, "probe_read_str": 45}),
		enum("bpf_prog_type", "BPF_PROG_TYPE_", map[string]uint64{"KPROBE": uint64(ebpf.Kprobe), "TRACEPOINT": uint64(ebpf.TracePoint), "TRACING": uint64(ebpf.Tracing)}),
		enum("bpf_map_type", "BPF_MAP_TYPE_", map[string]uint64{"HASH": uint64(ebpf.Hash), "PERF_EVENT_ARRAY": uint64(ebpf.PerfEventArray)}),
		enum("bpf_attach_type", "BPF_", map[string]uint64{"TRACE_FENTRY": uint64(ebpf.AttachTraceFEntry)}),
		&btf.Func{Name: "vfs_open", Type: proto, Linkage: btf.GlobalFunc},
		&btf.Typedef{Name: "btf_trace_sched_switch", Type: &btf.Pointer{Target: proto}},
	}
	b, err := btf.NewBuilder(types, nil)
	require.NoError(t, err)
	spec, err := b.Spec()
	require.NoError(t, err)
	return spec
}

// TestFeatureChecks checks each kind of finding on syntheticKernel with
// hand-assembled programs.
func TestFeatureChecks(t *testing.T) {
	kernel := syntheticKernel(t)
	call := func(fn asm.BuiltinFunc) asm.Instructions {
		return asm.Instructions{fn.Call(), asm.Mov.Imm(asm.R0, 0), asm.Return()}
	}
	useMap := func(name string) asm.Instructions {
		return asm.Instructions{asm.LoadMapPtr(asm.R1, 0).WithReference(name), asm.Mov.Imm(asm.R0, 0), asm.Return()}
	}
	// guarded calls fn only behind "if (0)", as CO-RE leaves a false check.
	guarded := func(fn asm.BuiltinFunc) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Imm(asm.R1, 0),
			asm.JEq.Imm(asm.R1, 0, "out"),
			fn.Call(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
			asm.Return(),
		}
	}
	kprobe := func(fn string, insns asm.Instructions) *ebpf.ProgramSpec {
		return &ebpf.ProgramSpec{Type: ebpf.Kprobe, SectionName: "kprobe/" + fn, AttachTo: fn, Instructions: insns}
	}
	tests := []struct {
		name     string
		prog     *ebpf.ProgramSpec
		fallback bool
		verdict  Verdict
		check    Check
		cell     string // the finding's Text
		detail   string
	}{
		{"helper present", kprobe("vfs_open", call(asm.FnTracePrintk)), false, Loads, CheckHelper, "ok", ""},
		{"helper absent", kprobe("vfs_open", call(asm.FnLoop)), false, Fails, CheckHelper, "ABSENT", "helper bpf_loop (181)"},
		{"helper absent in dead code", kprobe("vfs_open", guarded(asm.FnLoop)), false, Loads, CheckHelper, "ok*", "dead code"},
		{"probe_read_kernel rewritten by cilium/ebpf", kprobe("vfs_open", call(asm.FnProbeReadKernel)), false, Loads, CheckHelper, "ok*", "rewrites it to bpf_probe_read"},
		{"kprobe target absent from BTF", kprobe("no_such_fn", call(asm.FnTracePrintk)), false, Unknown, CheckAttachTarget, "unknown", "kallsyms"},
		{"tracepoint present", &ebpf.ProgramSpec{Type: ebpf.TracePoint, SectionName: "tracepoint/sched/sched_switch", AttachTo: "sched/sched_switch", Instructions: call(asm.FnTracePrintk)},
			false, Loads, CheckAttachTarget, "ok", ""},
		{"tracepoint absent", &ebpf.ProgramSpec{Type: ebpf.TracePoint, SectionName: "tracepoint/sched/no_such_tp", AttachTo: "sched/no_such_tp", Instructions: call(asm.FnTracePrintk)},
			false, Fails, CheckAttachTarget, "ABSENT", "no tracepoint no_such_tp"},
		{"fentry target present", &ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceFEntry, SectionName: "fentry/vfs_open", AttachTo: "vfs_open", Instructions: call(asm.FnTracePrintk)},
			false, Loads, CheckAttachTarget, "ok", ""},
		{"fentry target absent", &ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceFEntry, SectionName: "fentry/no_such_fn", AttachTo: "no_such_fn", Instructions: call(asm.FnTracePrintk)},
			false, Fails, CheckAttachTarget, "ABSENT", "no_such_fn is not in this kernel's BTF"},
		{"fexit attach type absent", &ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceFExit, SectionName: "fexit/vfs_open", AttachTo: "vfs_open", Instructions: call(asm.FnTracePrintk)},
			false, Fails, CheckAttachType, "ABSENT", "enum bpf_attach_type"},
		{"program type absent", &ebpf.ProgramSpec{Type: ebpf.XDP, SectionName: "xdp", Instructions: call(asm.FnTracePrintk)},
			false, Fails, CheckProgType, "ABSENT", "enum bpf_prog_type"},
		{"ring buffer absent", kprobe("vfs_open", useMap("events")), false, Fails, CheckMapType, "ABSENT", "type RingBuf"},
		{"ring buffer absent, loader falls back", kprobe("vfs_open", useMap("events")), true, Loads, CheckMapType, "ok*", "falls back to PerfEventArray"},
		{"callback without bpf_for_each_map_elem", kprobe("vfs_open", asm.Instructions{
			asm.LoadImm(asm.R2, 0, asm.DWord).WithReference("cb"), asm.Mov.Imm(asm.R0, 0), asm.Return(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("cb"), asm.Return(),
		}), false, Fails, CheckCallback, "ABSENT", "5.13"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.prog.Name = "p"
			if tc.check == CheckCallback {
				tc.prog.Instructions[0].Src = asm.PseudoFunc
			}
			spec := &ebpf.CollectionSpec{
				Programs: map[string]*ebpf.ProgramSpec{"p": tc.prog},
				Maps:     map[string]*ebpf.MapSpec{"events": {Name: "events", Type: ebpf.RingBuf, MaxEntries: 4096}},
			}
			var opts Options
			if tc.fallback {
				opts.MapFallbacks = func(*ebpf.CollectionSpec) map[string]ebpf.MapType {
					return map[string]ebpf.MapType{"events": ebpf.PerfEventArray}
				}
			}
			res, err := Relocate(spec, kernel, opts)
			require.NoError(t, err)
			require.Len(t, res.Programs, 1)
			p := res.Programs[0]
			assert.Equal(t, tc.verdict, p.Verdict, "verdict; findings %+v", p.Findings)
			var found *Finding
			for i := range p.Findings {
				if p.Findings[i].Check == tc.check && p.Findings[i].Text() != "ok" || tc.cell == "ok" && p.Findings[i].Check == tc.check {
					found = &p.Findings[i]
				}
			}
			require.NotNil(t, found, "no %s finding in %+v", tc.check, p.Findings)
			assert.Equal(t, tc.cell, found.Text(), "finding %+v", *found)
			assert.Contains(t, found.Detail, tc.detail)
		})
	}
}

// TestPartialBTFChecksOnlyCORE: BTF without the UAPI enums (synthetic or
// reduced) gets no feature findings and a note, not a wall of unknowns.
func TestPartialBTFChecksOnlyCORE(t *testing.T) {
	res, err := Relocate(loadTestObject(t), kernelModern(t), Options{})
	require.NoError(t, err)
	require.Equal(t, []string{partialNote}, res.Notes)
	for _, p := range res.Programs {
		for _, f := range p.Findings {
			assert.Equal(t, CheckCORE, f.Check, "%s: %+v", p.Name, f)
		}
		assert.NotEqual(t, Unknown, p.Verdict, p.Name)
	}
}

func TestHelperName(t *testing.T) {
	for fn, want := range map[asm.BuiltinFunc]string{
		asm.FnLoop:               "bpf_loop",
		asm.FnGetCurrentTaskBtf:  "bpf_get_current_task_btf",
		asm.FnProbeReadKernelStr: "bpf_probe_read_kernel_str",
		asm.FnMapLookupElem:      "bpf_map_lookup_elem",
		asm.FnSkbLoadBytes:       "bpf_skb_load_bytes",
	} {
		assert.Equal(t, want, helperName(fn), "helper %d", int(fn))
	}
	assert.True(t, strings.HasPrefix(helperName(asm.BuiltinFunc(100000)), "helper #"), strconv.Itoa(100000))
}
