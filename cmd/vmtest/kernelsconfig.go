package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/corematrix/corematrix/kernels"
	"github.com/corematrix/corematrix/kernels/kallsyms"
)

// kernelsConfig prints a kernel's config: the file its package ships
// (Debian's /boot/config-*), else the one the image embeds
// (CONFIG_IKCONFIG); with SYMBOLs only those, "n" for one not set. Exit
// code 1 when the kernel has no config to read.
func kernelsConfig(ctx context.Context, args []string) error {
	fs, kf := kernelsFlagSet("config", "config [flags] NAME [SYMBOL...]   (SYMBOL: CONFIG_FPROBE or FPROBE)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return usageOf(fs)
	}
	if _, err := kernels.ParseName(fs.Arg(0)); err != nil {
		return usageError(err)
	}
	r, err := kf.newResolver(stderrProgress(), false)
	if err != nil {
		return exitWith(exitInfra, err)
	}
	img, err := r.Resolve(ctx, fs.Arg(0))
	if err != nil {
		return resolveError(err)
	}
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
		return exitWith(exitFail, fmt.Errorf("config of %s: %w", fs.Arg(0), err))
	}
	fmt.Printf("# %s: %s; config from %s\n", fs.Arg(0), img.KernelVersion, from)
	if fs.NArg() == 1 {
		_, err := os.Stdout.Write(raw)
		return err
	}
	cfg := kernels.ParseConfig(raw)
	for _, sym := range fs.Args()[1:] {
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return usageOf(fs)
	}
	if _, err := kernels.ParseName(fs.Arg(0)); err != nil {
		return usageError(err)
	}
	r, err := kf.newResolver(stderrProgress(), false)
	if err != nil {
		return exitWith(exitInfra, err)
	}
	img, err := r.Resolve(ctx, fs.Arg(0))
	if err != nil {
		return resolveError(err)
	}
	btfDir, err := btfCacheDir("", kf.cacheDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmtest kernels kallsyms: %v; not caching\n", err)
	}
	raw, err := newBTFCache(btfDir).Cached(img.Path, img.SHA256, kallsyms.FuncsFormat, kernels.ImageFuncs)
	if err != nil {
		return exitWith(exitFail, err)
	}
	if fs.NArg() == 1 {
		_, err := os.Stdout.Write(raw)
		return err
	}
	var funcs kallsyms.Funcs
	if err := funcs.UnmarshalText(raw); err != nil {
		return exitWith(exitInfra, err)
	}
	var missing []string
	want := fs.Args()[1:]
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
