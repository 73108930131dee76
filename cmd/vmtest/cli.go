package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/corematrix/corematrix/kernel"
)

// flags is a command's flag set and its synopsis. Errors of its parse say
// what was wrong in one line, followed by the synopsis; --help prints the
// synopsis, the description and every flag on stdout.
type flags struct {
	*flag.FlagSet
	synopsis string // "vmtest exec --kernel 6.1 [flags] -- BINARY [ARGS...]"
	about    string // paragraphs printed by --help after the synopsis
}

func newFlags(name, synopsis, about string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return &flags{FlagSet: fs, synopsis: synopsis, about: about}
}

// help prints the command's usage, description and flags to w.
func (f *flags) help(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n", f.synopsis)
	if f.about != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(f.about, "\n"))
	}
	any := false
	f.VisitAll(func(*flag.Flag) { any = true })
	if any {
		fmt.Fprintln(w, "\nflags:")
		f.SetOutput(w)
		f.PrintDefaults()
		f.SetOutput(io.Discard)
	}
	fmt.Fprintf(w, "\n%s\n", exitCodesHelp)
}

// errHelp stops a command after --help: exit 0, the usage is printed.
var errHelp error = &exitError{code: exitOK}

// parse parses args. With interspersed, flags may come before, between or
// after the positional arguments (up to a "--", after which everything is
// positional); without, the first positional argument ends the flags (it is
// a payload, and what follows it are the payload's arguments). It returns
// the positional arguments, or errHelp after --help, or a usage error naming
// what was wrong.
func (f *flags) parse(args []string, interspersed bool) ([]string, error) {
	f.SetOutput(io.Discard)
	f.Usage = func() {}
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.help(os.Stdout)
				return nil, errHelp
			}
			return nil, f.fail(err)
		}
		rest := f.Args()
		if !interspersed || len(rest) == 0 {
			return append(pos, rest...), nil
		}
		// Parse stops after a "--" (everything after it is positional) or
		// at the first positional argument.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// fail is a usage error: err on one line, then the synopsis.
func (f *flags) fail(err error) error {
	return &exitError{code: exitUsage, err: flagError(err), usage: f.synopsis}
}

// flagErrorRE matches the flag package's error for a value Set refused.
var flagErrorRE = regexp.MustCompile(`^invalid value "(.*)" for flag -([^:]+): (.*)$`)

// flagError rewords the flag package's errors the way the flags are
// written: "--kernel 6.1,5.10: ..." rather than `invalid value "6.1,5.10"
// for flag -kernel: ...`.
func flagError(err error) error {
	msg := err.Error()
	if m := flagErrorRE.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("--%s %s: %s", m[2], strconv.Quote(m[1]), m[3])
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return fmt.Errorf("unknown flag %s", name)
	}
	return err
}

// failf is fail with a formatted message.
func (f *flags) failf(format string, a ...any) error {
	return f.fail(fmt.Errorf(format, a...))
}

// set reports whether the flag name was given on the command line.
func (f *flags) set(name string) bool {
	found := false
	f.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	return found
}

// kernelsHelp is the one help text of the kernel-list flag.
const kernelsHelp = "comma-separated `LIST` of kernels: version lines (6.1), exact versions (6.1.176), latest, deb:SUITE/PACKAGE, oci:REF, bzImage paths; any may end in /amd64 or /arm64"

// kernelList is the one flag.Value for kernels on the command line:
// --kernels takes a comma list, --kernel (its single form) one name. Every
// name must parse (kernel.Parse) or be one of also; a kernel listed twice,
// an empty name ("6.1,,5.10") and an empty list are errors. What it holds
// is each kernel's identity, carried from here to QEMU and the reports.
type kernelList struct {
	kernels []kernel.Kernel
	also    []string // names that are not kernel names but are allowed ("host")
	single  bool     // the --kernel form: one name only
	from    string   // the flag that set it
}

// names returns the names of the kernels, as written.
func (kl *kernelList) names() []string { return kernelNames(kl.kernels) }

// addKernelFlag declares the kernel-list flag on fs: "kernels" (a list),
// "kernel" (one name) or both, sharing one value.
func addKernelFlag(fs *flags, forms ...string) *kernelList {
	kl := &kernelList{}
	for _, form := range forms {
		switch form {
		case "kernels":
			fs.Var(kernelForm{kl, false}, "kernels", kernelsHelp)
		case "kernel":
			fs.Var(kernelForm{kl, true}, "kernel", "one `KERNEL`: the single form of --kernels")
		}
	}
	return kl
}

// kernelForm is one spelling (--kernel or --kernels) of a kernelList.
type kernelForm struct {
	kl     *kernelList
	single bool
}

func (k kernelForm) String() string {
	if k.kl == nil {
		return ""
	}
	return strings.Join(k.kl.names(), ",")
}

func (k kernelForm) Set(v string) error {
	flagName := "--kernels"
	if k.single {
		flagName = "--kernel"
	}
	if k.kl.from != "" {
		return fmt.Errorf("%s given after %s: give the kernels once", flagName, k.kl.from)
	}
	ks, err := parseKernels([]string{v}, k.kl.also...)
	if err != nil {
		return err
	}
	if k.single && len(ks) > 1 {
		return fmt.Errorf("takes one kernel; for several use --kernels %s", strings.Join(kernelNames(ks), ","))
	}
	k.kl.kernels, k.kl.single, k.kl.from = ks, k.single, flagName
	return nil
}

// IsBoolFlag is false: the value is required.
func (k kernelForm) IsBoolFlag() bool { return false }

// parseKernels is the one parser of kernel lists on the command line (the
// kernel-list flag; the NAME arguments of kernels fetch and lock), where
// each kernel's identity is made (kernel.Parse). Each of args is a name or a
// list separated by commas; every name must be a kernel name or one of also
// (core-report's "host", which becomes a Kernel of that name alone). An
// empty name between commas, a kernel listed twice (also as "6.1" and
// "6.1/amd64" on an amd64 host) and an empty list are errors; the errors for
// a bad or missing name wrap kernel.ErrBadName.
func parseKernels(args []string, also ...string) ([]kernel.Kernel, error) {
	var out []kernel.Kernel
	seen := map[string]string{}
	for _, arg := range args {
		if strings.TrimSpace(arg) == "" {
			continue
		}
		for tok := range strings.SplitSeq(arg, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" {
				return nil, fmt.Errorf("empty name in kernel list %q: %w", arg, kernel.ErrBadName)
			}
			k, id := kernel.Kernel{Name: tok}, tok
			if !slices.Contains(also, tok) {
				var err error
				if k, err = kernel.Parse(tok); err != nil {
					return nil, err
				}
				id = k.Spec.Base() + "/" + string(k.Arch)
			}
			if first, ok := seen[id]; ok {
				if first == tok {
					return nil, fmt.Errorf("kernel %q listed twice", tok)
				}
				return nil, fmt.Errorf("kernel %q listed twice (also as %q)", tok, first)
			}
			seen[id] = tok
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no kernel given: %w", kernel.ErrBadName)
	}
	return out, nil
}

// kernelNames returns the names of ks, in order (nil for none).
func kernelNames(ks []kernel.Kernel) []string {
	var names []string
	for _, k := range ks {
		names = append(names, k.Name)
	}
	return names
}

// format is the one --format vocabulary of every command that renders a
// report: text (a terminal table), markdown or json. "table" and "md" are
// accepted as the older spellings of text and markdown.
type format string

const (
	formatText     format = "text"
	formatMarkdown format = "markdown"
	formatJSON     format = "json"
)

const formatHelp = "output `FORMAT`: text, markdown or json"

func addFormatFlag(fs *flags) *format {
	f := formatText
	fs.Var(&f, "format", formatHelp)
	return &f
}

func (f *format) String() string { return string(*f) }

func (f *format) Set(v string) error {
	switch v {
	case "text", "table":
		*f = formatText
	case "markdown", "md":
		*f = formatMarkdown
	case "json":
		*f = formatJSON
	default:
		return fmt.Errorf("unknown format %q: want text, markdown or json", v)
	}
	return nil
}
