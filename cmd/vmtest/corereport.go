package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/corematrix/corematrix/argread"
	"github.com/corematrix/corematrix/corereport"
	"github.com/corematrix/corematrix/kernels"
	"github.com/corematrix/corematrix/kernels/cache"
	"github.com/corematrix/corematrix/kernels/kallsyms"
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

// coreReport is runCoreReport writing the report to out.
func coreReport(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("core-report", flag.ContinueOnError)
	kernelList := fs.String("kernels", "", "comma-separated kernels: versions (5.10, 6.1), image paths, or \"host\" for the running kernel's BTF")
	format := fs.String("format", "table", "output format: table, markdown or json")
	btfCache := fs.String("btf-cache", "", "directory caching BTF extracted from kernel images (default CACHE-DIR/btf; \"none\": no cache)")
	diff := fs.Bool("diff", false, "print only what differs for the object between two kernels, given as the first two arguments")
	kf := addKernelFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: vmtest core-report --kernels 5.10,6.1,6.12 [--format table|markdown|json] [OBJECT]\n")
		fmt.Fprintf(fs.Output(), "       vmtest core-report --diff KERNEL-A KERNEL-B [--format ...] [OBJECT]\n\n")
		fmt.Fprintf(fs.Output(), "OBJECT defaults to %s.\n\nflags:\n", defaultCoreObject)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	var names []string
	switch {
	case *diff && (*kernelList != "" || len(rest) < 2 || len(rest) > 3):
		return usageOf(fs)
	case *diff:
		var err error
		if names, err = parseKernels(rest[:2], hostKernel); err != nil {
			return usageError(fmt.Errorf("--diff: %w", err))
		}
		rest = rest[2:]
	case *kernelList == "" || len(rest) > 1:
		return usageOf(fs)
	default:
		var err error
		if names, err = parseKernels([]string{*kernelList}, hostKernel); err != nil {
			return usageError(fmt.Errorf("--kernels: %w", err))
		}
	}
	f := corereport.Format(*format)
	if f != corereport.FormatTable && f != corereport.FormatMarkdown && f != corereport.FormatJSON {
		return usageError(fmt.Errorf("--format %q: %w", *format, corereport.ErrUnknownFormat))
	}
	btfDir, err := btfCacheDir(*btfCache, kf.cacheDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmtest core-report: %v; not caching BTF\n", err)
	}
	object := defaultCoreObject
	if len(rest) == 1 {
		object = rest[0]
	}
	spec, err := ebpf.LoadCollectionSpec(object)
	if err != nil {
		return usageError(fmt.Errorf("load %s: %w", object, err))
	}
	resolve, err := kf.resolver()
	if err != nil {
		return usageError(err)
	}

	// Resolving may download and BTF extraction decompresses: do kernels in
	// parallel, then relocate (microseconds) in order.
	bc := newBTFCache(btfDir)
	cols := make([]corereport.Kernel, len(names))
	btfs := make([]*btf.Spec, len(names))
	facts := make([]*corereport.Facts, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			cols[i] = corereport.Kernel{Name: name}
			path, sum, configPath := "/sys/kernel/btf/vmlinux", "", ""
			if name != hostKernel {
				k, err := resolve(ctx, name)
				if err != nil {
					cols[i].Err = err.Error()
					return
				}
				cols[i].Version = k.Version
				configPath = k.ConfigPath
				path, sum = k.Path, k.SHA256
			}
			kernel, err := bc.Load(path, sum)
			if err != nil {
				cols[i].Err = err.Error()
				return
			}
			btfs[i] = kernel
			if name != hostKernel {
				facts[i] = kernelFacts(bc, path, sum, configPath)
			}
		})
	}
	wg.Wait()
	for i, kernel := range btfs {
		if kernel == nil {
			continue
		}
		res, err := corereport.RelocateWith(spec, kernel, facts[i], corereport.Options{MapFallbacks: probes.MapFallbacks})
		if err != nil {
			cols[i].Err = err.Error()
			continue
		}
		cols[i].Result = res
	}

	m := corereport.NewMatrix(object, cols)
	var withBTF []argread.Kernel
	for i, kernel := range btfs {
		if kernel != nil {
			withBTF = append(withBTF, argread.Kernel{Name: names[i], BTF: kernel})
		}
	}
	if err := m.CheckArgs(spec, withBTF); err != nil {
		return exitWith(exitInfra, err)
	}
	if *diff {
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
	if err := m.Write(out, f); err != nil {
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

// kernelFacts reads what the prediction needs of the kernel image at path
// besides its BTF: its config (the file at configPath, else the one the
// image embeds) and its kallsyms functions, both cached with the BTF. What
// cannot be read stays nil (unknown) and the reason goes to stderr.
func kernelFacts(bc *corereport.BTFCache, path, sum, configPath string) *corereport.Facts {
	f := &corereport.Facts{}
	var cfg []byte
	var err error
	if configPath != "" {
		cfg, err = os.ReadFile(configPath)
	} else {
		cfg, err = bc.Cached(path, sum, "config", kernels.ImageConfig)
	}
	if err == nil {
		f.Config = kernels.ParseConfig(cfg)
	} else if !errors.Is(err, kernels.ErrNoConfig) {
		fmt.Fprintf(os.Stderr, "vmtest: config of %s: %v\n", path, err)
	}
	raw, err := bc.Cached(path, sum, kallsyms.FuncsFormat, kernels.ImageFuncs)
	if err == nil {
		var fs kallsyms.Funcs
		if err = fs.UnmarshalText(raw); err == nil {
			f.Funcs = &fs
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmtest: kallsyms of %s: %v\n", path, err)
	}
	return f
}

// newBTFCache is the offline report's BTF cache in dir, wired to the kernels
// package: it tells bzImages, extracts their BTF and hashes them.
func newBTFCache(dir string) *corereport.BTFCache {
	return &corereport.BTFCache{Dir: dir, IsImage: kernels.IsBzImage, Extract: kernels.RawBTF, Hash: cache.HashFile}
}
