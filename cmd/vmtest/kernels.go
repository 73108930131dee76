package main

import (
	"context"
	"errors"
	"flag"
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

	"github.com/corematrix/corematrix/kernels"
	"github.com/corematrix/corematrix/kernels/progress"

	"github.com/corematrix/corematrix/internal/termtext"
)

func init() {
	register("kernels", "list, fetch, lock and prune kernel images; print a kernel's BTF types", kernelsCmd)
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
}

func kernelsCmd(ctx context.Context, args []string) error {
	if len(args) > 0 {
		for _, c := range kernelsSubcommands {
			if c.name == args[0] {
				return prefixed(c.name, c.run(ctx, args[1:]))
			}
		}
		if args[0] != "-h" && args[0] != "--help" && args[0] != "help" {
			fmt.Fprintf(os.Stderr, "vmtest kernels: unknown subcommand %q\n\n", args[0])
		}
	}
	fmt.Fprintln(os.Stderr, "usage: vmtest kernels SUBCOMMAND [flags] [NAMES...]")
	fmt.Fprintln(os.Stderr, "\nsubcommands:")
	for _, c := range kernelsSubcommands {
		fmt.Fprintf(os.Stderr, "  %-7s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(os.Stderr, "\nkernel names: 6.1 (newest 6.1.x), 6.1.176, latest, deb:SUITE/PACKAGE, oci:REF, a bzImage path or a ci-kernels directory")
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		return nil
	}
	return exitWith(exitUsage, nil)
}

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
func kernelsFlagSet(name, usage string) (*flag.FlagSet, *kernelFlags) {
	fs := flag.NewFlagSet("vmtest kernels "+name, flag.ContinueOnError)
	kf := addKernelFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: vmtest kernels %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	return fs, kf
}

// stderrProgress reports on stderr: live bytes and rate on a terminal, a line
// per step otherwise.
func stderrProgress() *progress.Reporter {
	return progress.New(os.Stderr, term.IsTerminal(int(os.Stderr.Fd())))
}

// resolveError gives a resolution error its exit code: exitUsage for a bad
// name, exitInfra otherwise.
func resolveError(err error) error {
	if errors.Is(err, kernels.ErrBadName) {
		return usageError(err)
	}
	return exitWith(exitInfra, err)
}

func kernelsList(ctx context.Context, args []string) error {
	fs, kf := kernelsFlagSet("list", "list [--all] [flags]")
	all := fs.Bool("all", false, "list every version, not only the newest of each line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	r, err := kf.newResolver(stderrProgress(), true)
	if err != nil {
		return exitWith(exitInfra, err)
	}
	offers, err := r.Offers(ctx)
	if err != nil {
		if len(offers) == 0 {
			return exitWith(exitInfra, err)
		}
		// Some suites answered: list what they offer, warn about the rest.
		fmt.Fprintln(os.Stderr, "vmtest kernels list: warning:", err)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LINE\tVERSION\tSUITE\tPACKAGE\tDEB VERSION\tSIZE")
	seen := map[string]bool{}
	// Lines in ascending order, each line's versions newest first.
	sort.SliceStable(offers, func(i, j int) bool {
		return lineLess(offers[i].Line, offers[j].Line)
	})
	for _, o := range offers {
		if !*all && seen[o.Line] {
			continue
		}
		seen[o.Line] = true
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.Line, o.Version, o.Suite, o.Package, o.PackageVersion, progress.Bytes(o.Size))
	}
	tw.Flush()
	fmt.Fprintf(os.Stderr, "mirror %s; lines not listed (e.g. 5.4, 5.15, 6.6) resolve to %s:LINE or a local image\n", r.Mirror(), kernels.DefaultOCIRepository)
	return nil
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

// resolveAll resolves names two at a time, returning images and errors in order.
func resolveAll(ctx context.Context, resolve func(context.Context, string) (*kernels.Image, error), names []string) ([]*kernels.Image, []error) {
	imgs := make([]*kernels.Image, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			imgs[i], errs[i] = resolve(ctx, n)
		})
	}
	wg.Wait()
	return imgs, errs
}

// printImages prints the images resolved and returns the errors of the
// others, each named, with the highest exit code among them.
func printImages(names []string, imgs []*kernels.Image, errs []error, verbose bool) error {
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	names, err := parseKernels(fs.Args())
	if err != nil {
		return usageError(err)
	}
	r, err := kf.newResolver(stderrProgress(), false)
	if err != nil {
		return exitWith(exitInfra, err)
	}
	imgs, errs := resolveAll(ctx, r.Resolve, names)
	return printImages(names, imgs, errs, *verbose)
}

func kernelsLock(ctx context.Context, args []string) error {
	fs, kf := kernelsFlagSet("lock", "lock [--lock FILE] NAME[,NAME...] [NAME...]")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	names, err := parseKernels(fs.Args())
	if err != nil {
		return usageError(err)
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
	imgs, errs := resolveAll(ctx, func(ctx context.Context, n string) (*kernels.Image, error) {
		img, e, err := r.Pin(ctx, n)
		if err == nil {
			mu.Lock()
			lf.Kernels[n] = e
			mu.Unlock()
		}
		return img, err
	}, names)
	if err := printImages(names, imgs, errs, false); err != nil {
		return fmt.Errorf("%w\n%s not written", err, path)
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
	all := fs.Bool("all", false, "empty the cache")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageOf(fs)
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
	list := fs.String("kernels", "", "comma-separated kernels: print each FUNC's prototype on all of them side by side, marking what changed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	names, items := []string{fs.Arg(0)}, fs.Args()
	if *list != "" {
		var err error
		if names, err = parseKernels([]string{*list}); err != nil {
			return usageError(fmt.Errorf("--kernels: %w", err))
		}
		if len(items) == 0 {
			return usageOf(fs)
		}
	} else {
		if fs.NArg() < 1 {
			return usageOf(fs)
		}
		if _, err := kernels.ParseName(names[0]); err != nil {
			return usageError(err)
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
	specs := make([]*btf.Spec, len(names))
	labels := make([]string, len(names))
	for i, name := range names {
		img, err := r.Resolve(ctx, name)
		if err != nil {
			return resolveError(err)
		}
		if specs[i], err = bc.Load(img.Path, img.SHA256); err != nil {
			return exitWith(exitFail, err)
		}
		labels[i] = name
		fmt.Printf("# %s: %s\n", name, img.KernelVersion)
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
