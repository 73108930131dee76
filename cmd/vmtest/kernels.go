package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cilium/ebpf/btf"
	"github.com/hashicorp/go-multierror"
	"golang.org/x/term"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/kernels"
	"github.com/corematrix/corematrix/kernels/progress"

	"github.com/corematrix/corematrix/internal/termtext"
)

func init() {
	register("kernels", "list, fetch, lock and prune kernel images; print a kernel's BTF types, config and kallsyms", kernelsCmd)
}

var kernelsSubcommands = []struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}{
	{"list", "list the kernels the Debian archive offers, newest per line (--all: every version)", kernelsList},
	{"fetch", "resolve and download kernels into the cache; print versions and hashes", kernelsFetch},
	{"lock", "pin kernel names to exact images in kernels.lock", kernelsLock},
	{"prune", "remove cached images unused for a while (--all: everything)", kernelsPrune},
	{"btf", "print BTF types and function prototypes, e.g. `btf 6.1 task_struct`, `btf --kernels 5.10,6.1 vfs_unlink`", kernelsBTF},
	{"config", "print a kernel's config (package file or IKCONFIG), e.g. `config 6.1 FPROBE FTRACE_SYSCALLS`", kernelsConfig},
	{"kallsyms", "print the functions of a kernel's kallsyms (T: ftrace-able), read from its image, e.g. `kallsyms 6.1 vfs_read`", kernelsKallsyms},
}

func kernelsCmd(ctx context.Context, args []string) error {
	if len(args) > 0 {
		for _, c := range kernelsSubcommands {
			if c.name == args[0] {
				return prefixed(c.name, c.run(ctx, args[1:]))
			}
		}
		if args[0] != "-h" && args[0] != "-help" && args[0] != "--help" && args[0] != "help" {
			return &exitError{code: exitUsage, err: fmt.Errorf("unknown subcommand %q", args[0]), usage: kernelsSynopsis}
		}
		fmt.Println("usage: " + kernelsSynopsis)
		fmt.Println("\nsubcommands:")
		for _, c := range kernelsSubcommands {
			fmt.Printf("  %-7s %s\n", c.name, c.summary)
		}
		fmt.Println("\nkernel names: 6.1 (newest 6.1.x), 6.1.176, latest, deb:SUITE/PACKAGE, oci:REF, a bzImage path or a ci-kernels directory")
		fmt.Println("vmtest kernels SUBCOMMAND --help shows a subcommand's flags.")
		return nil
	}
	return &exitError{code: exitUsage, err: errors.New("missing subcommand: list, fetch, lock, prune or btf"), usage: kernelsSynopsis}
}

const kernelsSynopsis = "vmtest kernels list|fetch|lock|prune|btf [flags] [NAMES...] (vmtest kernels --help)"

// prefixed puts the subcommand's name before err's message, unless err is
// nil or silent.
func prefixed(name string, err error) error {
	var ee *exitError
	if err == nil || errors.As(err, &ee) && ee.err == nil {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

// kernelsFlagSet makes the flag set of a kernels subcommand.
func kernelsFlagSet(name, usage string) (*flags, *kernelFlags) {
	fs := newFlags("vmtest kernels "+name, "vmtest kernels "+usage, "")
	return fs, addKernelFlags(fs)
}

// orFail is err, or else a usage error of fs with the message.
func orFail(err error, fs *flags, format string, a ...any) error {
	if err != nil {
		return err
	}
	return fs.failf(format, a...)
}

// stderrProgress reports on stderr: live bytes and rate on a terminal, a line
// per step otherwise.
func stderrProgress() *progress.Reporter {
	return progress.New(os.Stderr, term.IsTerminal(int(os.Stderr.Fd())))
}

// resolveError gives a resolution error its exit code: exitUsage for a bad
// name, exitInfra otherwise.
func resolveError(err error) error {
	if errors.Is(err, kernel.ErrBadName) {
		return usageError(err)
	}
	return exitWith(exitInfra, err)
}

func kernelsList(ctx context.Context, args []string) error {
	fs, kf := kernelsFlagSet("list", "list [--all] [--arch amd64,arm64] [flags]")
	all := fs.Bool("all", false, "list every version, not only the newest of each line")
	archList := fs.String("arch", string(kernel.HostArch()), "comma-separated `ARCHES` to list (amd64, arm64); a kernel of another architecture than the host's is listed by its name, e.g. 6.1/arm64")
	if rest, err := fs.parse(args, true); err != nil || len(rest) > 0 {
		return orFail(err, fs, "takes no arguments, got %q", rest)
	}
	var arches []kernel.Arch
	for a := range strings.SplitSeq(*archList, ",") {
		arch, err := kernel.ParseArch(strings.TrimSpace(a))
		if err != nil {
			return fs.fail(fmt.Errorf("--arch: %w", err))
		}
		arches = append(arches, arch)
	}
	r, err := kf.newResolver(stderrProgress(), true)
	if err != nil {
		return exitWith(exitInfra, err)
	}
	var offers []kernels.Offer
	for _, arch := range arches {
		o, err := r.OffersFor(ctx, string(arch))
		if err != nil {
			if len(o) == 0 {
				return exitWith(exitInfra, err)
			}
			// Some suites answered: list what they offer, warn about the rest.
			fmt.Fprintln(os.Stderr, "vmtest kernels list: warning:", err)
		}
		offers = append(offers, o...)
	}
	printOffers(offers, *all)
	fmt.Fprintf(os.Stderr, "mirror %s; lines not listed (e.g. 5.4, 5.15, 6.6) resolve to %s:LINE or a local image\n", r.Mirror(), kernels.DefaultOCIRepository)
	return nil
}

// printOffers prints one row per line (every version with all), lines in
// ascending order, each line's versions newest first. LINE is the name
// that asks for the kernel: with the architecture when it is not the
// host's (6.1/arm64).
func printOffers(offers []kernels.Offer, all bool) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LINE\tARCH\tVERSION\tSUITE\tPACKAGE\tDEB VERSION\tSIZE")
	seen := map[string]bool{}
	sort.SliceStable(offers, func(i, j int) bool {
		return lineLess(offers[i].Line, offers[j].Line)
	})
	for _, o := range offers {
		name := o.Line
		if o.Arch != string(kernel.HostArch()) {
			name += "/" + o.Arch
		}
		if !all && seen[name] {
			continue
		}
		seen[name] = true
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, o.Arch, o.Version, o.Suite, o.Package, o.PackageVersion, progress.Bytes(o.Size))
	}
	tw.Flush()
}

// lineLess orders "5.10" < "6.1" < "6.12" numerically.
func lineLess(a, b string) bool {
	var a1, a2, b1, b2 int
	fmt.Sscanf(a, "%d.%d", &a1, &a2)
	fmt.Sscanf(b, "%d.%d", &b1, &b2)
	if a1 != b1 {
		return a1 < b1
	}
	return a2 < b2
}

// resolveAll resolves kernels two at a time, returning them and their errors
// in order.
func resolveAll(ctx context.Context, resolve func(context.Context, kernel.Kernel) (kernel.Kernel, error), ks []kernel.Kernel) ([]kernel.Kernel, []error) {
	imgs := make([]kernel.Kernel, len(ks))
	errs := make([]error, len(ks))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, k := range ks {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			imgs[i], errs[i] = resolve(ctx, k)
		})
	}
	wg.Wait()
	return imgs, errs
}

// printImages prints the images resolved and returns the errors of the
// others, each named, with the highest exit code among them.
func printImages(names []string, imgs []kernel.Kernel, errs []error, verbose bool) error {
	code := exitOK
	var failed []error
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	if slices.ContainsFunc(errs, func(err error) bool { return err == nil }) {
		fmt.Fprintln(tw, "NAME\tVERSION\tRELEASE\tBTF\tSHA256\tSOURCE")
	}
	for i, n := range names {
		if errs[i] != nil {
			continue
		}
		img := imgs[i]
		b := "no"
		if img.HasBTF {
			b = "yes"
		}
		// Versions and sources come from indices and images: strip control characters.
		fmt.Fprintln(tw, termtext.Strip(strings.Join([]string{n, img.Version, img.Release, b, img.SHA256, img.Source}, "\t"), true))
	}
	tw.Flush()
	if verbose {
		for i := range names {
			if errs[i] == nil {
				fmt.Printf("\n%s: %s\n  image  %s\n", names[i], imgs[i].KernelVersion, imgs[i].Path)
				if imgs[i].ConfigPath != "" {
					fmt.Printf("  config %s\n ", imgs[i].ConfigPath)
					for _, k := range kernels.HighlightedConfig {
						fmt.Printf(" %s=%s", strings.TrimPrefix(k, "CONFIG_"), imgs[i].Config[k])
					}
					fmt.Println()
				}
				if imgs[i].Modules != "" {
					fmt.Printf("  modules %s/%s (%s in the package)\n", imgs[i].Modules, imgs[i].ModulesRelease, imgs[i].ModulesCompression)
				} else {
					fmt.Printf("  modules none: %s\n", imgs[i].ModulesMissing)
				}
			}
		}
	}
	for i, n := range names {
		if errs[i] != nil {
			failed = append(failed, fmt.Errorf("%s: %w", n, errs[i]))
			code = max(code, codeOf(resolveError(errs[i])))
		}
	}
	return exitWith(code, multierror.Append(nil, failed...).ErrorOrNil())
}

func kernelsFetch(ctx context.Context, args []string) error {
	fs, kf := kernelsFlagSet("fetch", "fetch [flags] NAME[,NAME...] [NAME...]")
	verbose := fs.Bool("v", false, "also print paths, kernel version strings and config highlights")
	rest, err := fs.parse(args, true)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return fs.failf("missing NAME: the kernels to fetch (e.g. 6.1 or 5.10,6.1)")
	}
	ks, err := parseKernels(rest)
	if err != nil {
		return fs.fail(err)
	}
	r, err := kf.newResolver(stderrProgress(), false)
	if err != nil {
		return exitWith(exitInfra, err)
	}
	imgs, errs := resolveAll(ctx, r.Resolve, ks)
	return printImages(kernelNames(ks), imgs, errs, *verbose)
}

func kernelsLock(ctx context.Context, args []string) error {
	fs, kf := kernelsFlagSet("lock", "lock [--lock FILE] NAME[,NAME...] [NAME...]")
	rest, err := fs.parse(args, true)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return fs.failf("missing NAME: the kernels to pin (e.g. 5.10,6.1)")
	}
	ks, err := parseKernels(rest)
	if err != nil {
		return fs.fail(err)
	}
	path, _ := kf.lockPath()
	if path == "" {
		return usageError(errors.New("--lock none leaves nothing to write"))
	}
	lf, err := kernels.ReadLockFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return usageError(err)
	}
	r, err := kf.newResolver(stderrProgress(), true)
	if err != nil {
		return exitWith(exitInfra, err)
	}
	var mu sync.Mutex
	imgs, errs := resolveAll(ctx, func(ctx context.Context, k kernel.Kernel) (kernel.Kernel, error) {
		img, e, err := r.Pin(ctx, k)
		if err == nil {
			mu.Lock()
			lf.Kernels[k.Name] = e
			mu.Unlock()
		}
		return img, err
	}, ks)
	if err := printImages(kernelNames(ks), imgs, errs, false); err != nil {
		var me *multierror.Error
		errors.As(err, &me)
		return exitWith(codeOf(err), multierror.Append(me, fmt.Errorf("%s not written", path)))
	}
	if err := lf.Write(path); err != nil {
		return exitWith(exitInfra, err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d kernels)\n", path, len(lf.Kernels))
	return nil
}

func kernelsPrune(ctx context.Context, args []string) error {
	fs, kf := kernelsFlagSet("prune", "prune [--older-than 720h] [--all]")
	olderThan := fs.Duration("older-than", 30*24*time.Hour, "remove images not used for this long")
	all := fs.Bool("all", false, "empty the cache: every image, index and extracted BTF")
	if rest, err := fs.parse(args, true); err != nil || len(rest) > 0 {
		return orFail(err, fs, "takes no arguments, got %q", rest)
	}
	r, err := kf.newResolver(nil, true)
	if err != nil {
		return exitWith(exitInfra, err)
	}
	age := *olderThan
	if *all {
		age = 0
	}
	st, err := r.Cache().Prune(ctx, age)
	if err != nil {
		return exitWith(exitInfra, err)
	}
	left, _ := r.Cache().Usage()
	fmt.Printf("removed %d files (%s) from %s; %d images (%s) remain\n", st.Files, progress.Bytes(st.Bytes), r.Cache().Dir(), left.Files, progress.Bytes(left.Bytes))
	return nil
}

func kernelsBTF(ctx context.Context, args []string) error {
	fs, kf := kernelsFlagSet("btf", "btf [flags] NAME [TYPE|FUNC...]\n       vmtest kernels btf --kernels 5.10,6.1,6.12 FUNC...")
	kl := addKernelFlag(fs, "kernels")
	items, err := fs.parse(args, true)
	if err != nil {
		return err
	}
	ks := kl.kernels
	switch {
	case ks != nil && len(items) == 0:
		return fs.failf("missing FUNC: the functions whose prototypes to compare (e.g. vfs_unlink)")
	case ks == nil && len(items) == 0:
		return fs.failf("missing NAME: the kernel whose BTF to print (e.g. kernels btf 6.1 task_struct)")
	case ks == nil:
		if ks, err = parseKernels(items[:1]); err != nil {
			return fs.fail(err)
		}
		if len(ks) > 1 {
			return fs.failf("one kernel NAME, got %q: compare several with --kernels", items[0])
		}
		items = items[1:]
	}
	r, err := kf.newResolver(stderrProgress(), false)
	if err != nil {
		return exitWith(exitInfra, err)
	}
	btfDir, err := btfCacheDir("", kf.cacheDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmtest kernels btf: %v; not caching BTF\n", err)
	}
	bc := newBTFCache(btfDir)
	specs := make([]*btf.Spec, len(ks))
	labels := make([]string, len(ks))
	for i, k := range ks {
		img, err := r.Resolve(ctx, k)
		if err != nil {
			return resolveError(err)
		}
		if specs[i], err = bc.Load(img.Path, img.SHA256); err != nil {
			return exitWith(exitFail, err)
		}
		labels[i] = k.Name
		fmt.Printf("# %s: %s\n", k.Name, img.KernelVersion)
	}
	var missing []error
	for _, item := range items {
		if err := printBTF(os.Stdout, item, labels, specs); err != nil {
			missing = append(missing, err)
		}
	}
	if len(missing) > 0 {
		return exitWith(exitFail, multierror.Append(nil, missing...).ErrorOrNil())
	}
	return nil
}
