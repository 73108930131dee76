package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"slices"

	"github.com/corematrix/corematrix/corereport"
	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels"
	"github.com/corematrix/corematrix/kernels/cache"
	"github.com/corematrix/corematrix/probes"
)

// defaultCoreObject is the probes object core-report reads unless told otherwise.
const defaultCoreObject = "probes/tracer_x86_bpfel.o"

// hostKernel is the kernel name that means the running kernel's BTF.
const hostKernel = "host"

func init() {
	register("core-report", "print the offline CO-RE relocation matrix of a BPF object (no boot)", runCoreReport)
}

// runCoreReport resolves every CO-RE relocation of a BPF object against the
// BTF of each kernel (extracted from its image, cached by image SHA-256),
// checks the helpers, kfuncs, types and attach targets its programs need
// and, for kprobe/kretprobe/fentry/fexit programs, whether the arguments
// they read keep their types across the kernels, and prints relocation x
// kernel, the checks worth a look, the predicted outcome per program and the
// argument reads. Exit code 1 when any program is predicted to fail or an
// argument read drifts, 3 when only kernels were unavailable. With --diff A
// B it prints only what differs between two kernels; exit code 1 when
// anything does.
func runCoreReport(ctx context.Context, args []string) error {
	return coreReport(ctx, args, os.Stdout)
}

// coreReportArgs is the command line of vmtest core-report.
type coreReportArgs struct {
	kernels  []kernel.Kernel
	object   string
	diff     bool
	format   corereport.Format
	btfCache string
	kf       *kernelFlags
}

func parseCoreReport(args []string) (*coreReportArgs, error) {
	fs := newFlags("vmtest core-report", "vmtest core-report --kernels 5.10,6.1,6.12 [--format text|markdown|json] [OBJECT]\n"+
		"       vmtest core-report --diff KERNEL-A KERNEL-B [--format ...] [OBJECT]",
		"Resolves every CO-RE relocation of OBJECT (default "+defaultCoreObject+") against each kernel's BTF,\n"+
			"checks helpers, kfuncs, types, attach targets and the arguments kprobes read, and predicts\n"+
			"each program's load. Boots nothing. Flags may come before or after the arguments.")
	kl := addKernelFlag(fs, "kernels")
	kl.also = []string{hostKernel}
	a := &coreReportArgs{kf: addKernelFlags(fs)}
	f := addFormatFlag(fs)
	fs.StringVar(&a.btfCache, "btf-cache", "", "directory `DIR` caching BTF extracted from kernel images (default CACHE-DIR/btf; \"none\": no cache)")
	fs.BoolVar(&a.diff, "diff", false, "print only what differs for the object between two kernels, given as the first two arguments")
	rest, err := fs.parse(args, true)
	if err != nil {
		return nil, err
	}
	switch {
	case a.diff && kl.kernels != nil:
		return nil, fs.failf("--diff takes its two kernels as arguments, not --kernels")
	case a.diff && len(rest) < 2:
		return nil, fs.failf("--diff needs two kernels, got %d", len(rest))
	case a.diff:
		if a.kernels, err = parseKernels(rest[:2], hostKernel); err != nil {
			return nil, fs.failf("--diff: %w", err)
		}
		rest = rest[2:]
	case kl.kernels == nil:
		return nil, fs.failf("missing --kernels: the kernels to check against (e.g. --kernels 5.10,6.1)")
	default:
		a.kernels = kl.kernels
	}
	a.object = defaultCoreObject
	switch len(rest) {
	case 0:
	case 1:
		a.object = rest[0]
	default:
		return nil, fs.failf("one OBJECT at most, got %d: %q", len(rest), rest)
	}
	a.format = map[format]corereport.Format{formatText: corereport.FormatTable, formatMarkdown: corereport.FormatMarkdown, formatJSON: corereport.FormatJSON}[*f]
	return a, nil
}

// coreReport is runCoreReport writing the report to out.
func coreReport(ctx context.Context, args []string, out io.Writer) error {
	a, err := parseCoreReport(args)
	if err != nil {
		return err
	}
	btfDir, err := btfCacheDir(a.btfCache, a.kf.cacheDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmtest core-report: %v; not caching BTF\n", err)
	}
	// Kernels of one architecture get the object's build for it (a bpf2go
	// *_x86_bpfel.o has its *_arm64_bpfel.o sibling).
	if arch, ok := oneArch(a.kernels); ok {
		a.object = corereport.ObjectForArch(a.object, string(arch))
	}
	spec, err := corereport.LoadObject(a.object)
	if err != nil {
		return usageError(err)
	}
	resolver, err := a.kf.resolver()
	if err != nil {
		return usageError(err)
	}
	ks := slices.Clone(a.kernels)
	for i, k := range ks {
		if k.Name == hostKernel {
			// The running kernel: its BTF is the image.
			ks[i].Source, ks[i].Path = "host", "/sys/kernel/btf/vmlinux"
		}
	}
	m, err := corereport.Build(ctx, a.object, spec, ks, resolver, newBTFCache(btfDir), corereport.Options{MapFallbacks: probes.MapFallbacks})
	if err != nil {
		return exitWith(exitInfra, err)
	}
	if a.diff {
		return writeDiff(out, m, a.format)
	}
	if err := m.Write(out, a.format); err != nil {
		return exitWith(exitInfra, err)
	}
	switch {
	case m.Failures() > 0 || m.Args.Drifts() > 0:
		return exitWith(exitFail, nil)
	case m.Unavailable() > 0:
		return exitWith(exitInfra, nil)
	}
	return nil
}

// writeDiff prints what differs between the matrix's two kernels; exit 1
// when anything does.
func writeDiff(out io.Writer, m *corereport.Matrix, f corereport.Format) error {
	d, err := m.Diff()
	if err != nil {
		return exitWith(exitInfra, err)
	}
	if err := d.Write(out, f); err != nil {
		return exitWith(exitInfra, err)
	}
	if !d.Empty() {
		return exitWith(exitFail, nil)
	}
	return nil
}

// btfCacheDir is where kernel BTF is cached: flag, unless empty (then "btf"
// in the kernel cache directory, kernelCacheDir or the default one) or
// "none" (no cache).
func btfCacheDir(flag, kernelCacheDir string) (string, error) {
	switch {
	case flag == "none":
		return "", nil
	case flag != "":
		return flag, nil
	case kernelCacheDir != "":
		return filepath.Join(kernelCacheDir, "btf"), nil
	}
	dir, err := cache.DefaultDir()
	if err != nil {
		return "", fmt.Errorf("btf cache dir: %w", err)
	}
	return filepath.Join(dir, "btf"), nil
}

// newBTFCache is the offline report's BTF cache in dir, wired to the kernels
// package: it tells bzImages, extracts their BTF, kallsyms and embedded
// config, reads config files and hashes images.
func newBTFCache(dir string) *corereport.BTFCache {
	return &corereport.BTFCache{Dir: dir, IsImage: kernels.IsImage, Extract: kernels.RawBTF, Hash: cache.HashFile,
		Funcs: kernels.ImageFuncs, EmbeddedConfig: kernels.ImageConfig, ParseConfig: kernels.ParseConfig,
		Warn: func(format string, args ...any) {
			if err := fmt.Errorf(format, args...); !errors.Is(err, kernels.ErrNoConfig) && !errors.Is(err, kernels.ErrNoKallsyms) {
				fmt.Fprintf(os.Stderr, "vmtest: warning: "+format+"\n", args...)
			}
		}}
}

// oneArch returns the architecture every kernel of ks has, if they share one.
func oneArch(ks []kernel.Kernel) (kernel.Arch, bool) {
	var a kernel.Arch
	for _, k := range ks {
		ka := k.Arch
		if ka == "" {
			ka = kernel.HostArch()
		}
		if a != "" && ka != a {
			return "", false
		}
		a = ka
	}
	return a, a != ""
}
