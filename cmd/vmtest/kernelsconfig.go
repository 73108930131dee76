package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels"
	"github.com/corematrix/corematrix/kernels/kallsyms"
)

// kernelsConfig prints a kernel's config: the file its package ships
// (Debian's /boot/config-*), else the one the image embeds
// (CONFIG_IKCONFIG); with SYMBOLs only those, "n" for one not set. Exit
// code 1 when the kernel has no config to read.
func kernelsConfig(ctx context.Context, args []string) error {
	fs, kf := kernelsFlagSet("config", "config [flags] NAME [SYMBOL...]   (SYMBOL: CONFIG_FPROBE or FPROBE)")
	items, err := fs.parse(args, true)
	if err != nil {
		return err
	}
	img, err := resolveOne(ctx, fs, kf, items, "kernels config 6.1 FPROBE")
	if err != nil {
		return err
	}
	name, syms := items[0], items[1:]
	btfDir, err := btfCacheDir("", kf.cacheDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmtest kernels config: %v; not caching\n", err)
	}
	var raw []byte
	from := img.ConfigPath
	if from != "" {
		raw, err = os.ReadFile(from)
	} else {
		from = "the image (CONFIG_IKCONFIG)"
		raw, err = newBTFCache(btfDir).Cached(img.Path, img.SHA256, "config", kernels.ImageConfig)
	}
	if err != nil {
		return exitWith(exitFail, fmt.Errorf("config of %s: %w", name, err))
	}
	fmt.Printf("# %s: %s; config from %s\n", name, img.KernelVersion, from)
	if len(syms) == 0 {
		_, err := os.Stdout.Write(raw)
		return err
	}
	cfg := kernels.ParseConfig(raw)
	for _, sym := range syms {
		if !strings.HasPrefix(sym, "CONFIG_") {
			sym = "CONFIG_" + sym
		}
		v, ok := cfg[sym]
		if !ok {
			v = "n"
		}
		fmt.Printf("%s=%s\n", sym, v)
	}
	return nil
}

// kernelsKallsyms prints the functions of a kernel's kallsyms, read from
// its image, one a line: "T name" when ftrace can trace it (an
// __mcount_loc call site: available_filter_functions), "t name" otherwise;
// with FUNCs only those ("- name" for one kallsyms lacks, exit code 1).
func kernelsKallsyms(ctx context.Context, args []string) error {
	fs, kf := kernelsFlagSet("kallsyms", "kallsyms [flags] NAME [FUNC...]")
	items, err := fs.parse(args, true)
	if err != nil {
		return err
	}
	img, err := resolveOne(ctx, fs, kf, items, "kernels kallsyms 6.1 vfs_read")
	if err != nil {
		return err
	}
	btfDir, err := btfCacheDir("", kf.cacheDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmtest kernels kallsyms: %v; not caching\n", err)
	}
	raw, err := newBTFCache(btfDir).Cached(img.Path, img.SHA256, kallsyms.FuncsFormat, kernels.ImageFuncs)
	if err != nil {
		return exitWith(exitFail, err)
	}
	if len(items) == 1 {
		_, err := os.Stdout.Write(raw)
		return err
	}
	var funcs kallsyms.Funcs
	if err := funcs.UnmarshalText(raw); err != nil {
		return exitWith(exitInfra, err)
	}
	var missing []string
	want := slices.Clone(items[1:])
	sort.Strings(want)
	for _, fn := range want {
		switch {
		case funcs.Count[fn] == 0:
			fmt.Printf("- %s\n", fn)
			missing = append(missing, fn)
		case funcs.Traceable[fn]:
			fmt.Printf("T %s\n", fn)
		default:
			fmt.Printf("t %s\n", fn)
		}
	}
	if len(missing) > 0 {
		return exitWith(exitFail, errors.New("not in kallsyms: "+strings.Join(missing, ", ")))
	}
	return nil
}

// resolveOne resolves the kernel NAME that starts items, for the kernels
// subcommands that read one kernel.
func resolveOne(ctx context.Context, fs *flags, kf *kernelFlags, items []string, example string) (kernel.Kernel, error) {
	if len(items) == 0 {
		return kernel.Kernel{}, fs.failf("missing NAME: the kernel to read (e.g. %s)", example)
	}
	ks, err := parseKernels(items[:1])
	if err != nil {
		return kernel.Kernel{}, fs.fail(err)
	}
	if len(ks) != 1 {
		return kernel.Kernel{}, fs.failf("one kernel NAME, got %q", items[0])
	}
	r, err := kf.newResolver(stderrProgress(), false)
	if err != nil {
		return kernel.Kernel{}, exitWith(exitInfra, err)
	}
	img, err := r.Resolve(ctx, ks[0])
	if err != nil {
		return kernel.Kernel{}, resolveError(err)
	}
	return img, nil
}
