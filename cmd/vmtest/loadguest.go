package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
)

// loaderCommand is the hidden command `vmtest load` runs in the guest: the
// vmtest binary itself is the payload (it is static), so any object can be
// tried without building anything for the guest.
const loaderCommand = "_load-guest"

// loadLinePrefix starts every result line the guest loader prints; the
// host reads only those lines.
const loadLinePrefix = "corematrix-load "

func init() {
	register(loaderCommand, "(guest side of vmtest load)", loadGuestCmd)
}

// loadRow is what the guest reports of one program: whether it loaded
// alone (with only the maps it uses), whether it attached to its section's
// target, the error, and the verifier's instruction count.
type loadRow struct {
	// Object is the guest path of the object, for runs of several.
	Object  string `json:"object"`
	Program string `json:"program"`
	Section string `json:"section"`
	Loaded  bool   `json:"loaded"`
	// Attached is nil when attaching was not tried: the program did not
	// load, or its attach needs run-time input (a binary for a uprobe, a
	// cgroup, an interface).
	Attached *bool  `json:"attached"`
	Error    string `json:"error,omitempty"`
	// Stage is where Error happened: "map" (the kernel refused to create
	// a map the program uses), "load" (the kernel refused the program),
	// "loader" (cilium/ebpf refused before asking the kernel: no errno) or
	// "attach"; NotTried says why attaching was not tried.
	Stage    string `json:"stage,omitempty"`
	NotTried string `json:"not_tried,omitempty"`
	// Insns is the verifier's "processed N insns" (0 when unknown).
	Insns int `json:"insns"`
}

// loadGuestCmd loads and attaches every program of each object alone, one
// after another, and prints one result line per program.
func loadGuestCmd(_ context.Context, args []string) error {
	if len(args) == 0 {
		return usageError(errors.New("usage: vmtest " + loaderCommand + " OBJECT..."))
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		fmt.Fprintf(os.Stderr, "remove memlock limit: %v\n", err)
	}
	for _, obj := range args {
		spec, err := ebpf.LoadCollectionSpec(obj)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", obj, err)
			continue
		}
		names := make([]string, 0, len(spec.Programs))
		for n := range spec.Programs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			row := loadOne(spec, n)
			row.Object = obj
			b, err := json.Marshal(row)
			if err != nil {
				return err
			}
			fmt.Printf("%s%s\n", loadLinePrefix, b)
		}
	}
	return nil
}

// maxErrorText bounds the error text of one row.
const maxErrorText = 600

var processedInsns = regexp.MustCompile(`processed (\d+) insns`)

// verifierStats matches the statistics lines of a verifier log.
var verifierStats = regexp.MustCompile(`^(verification time|stack depth|processed \d+ insns|subprog \d+ |max_states_per_insn|peak_states|mark_read)`)

// loadOne loads program name of spec with only the maps it references, and
// attaches it when its section names a target.
func loadOne(spec *ebpf.CollectionSpec, name string) loadRow {
	s := spec.Copy()
	ps := s.Programs[name]
	row := loadRow{Program: name, Section: ps.SectionName}
	s.Programs = map[string]*ebpf.ProgramSpec{name: ps}
	refs := map[string]bool{}
	for _, ins := range ps.Instructions {
		if r := ins.Reference(); r != "" {
			refs[r] = true
		}
	}
	for m := range s.Maps {
		if !refs[m] {
			delete(s.Maps, m)
		}
	}
	s.Variables = nil
	coll, err := ebpf.NewCollectionWithOptions(s, ebpf.CollectionOptions{
		Programs: ebpf.ProgramOptions{LogLevel: ebpf.LogLevelStats, LogSizeStart: 1 << 20},
	})
	if err != nil {
		row.Stage, row.Error = "load", loadError(err)
		var errno syscall.Errno
		switch {
		case !errors.As(err, &errno):
			// cilium/ebpf refused before asking the kernel.
			row.Stage = "loader"
		case strings.HasPrefix(err.Error(), "map "):
			// cilium/ebpf names the map whose creation the kernel refused.
			row.Stage = "map"
		}
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			row.Insns = insnsOf(strings.Join(ve.Log, "\n"))
		}
		return row
	}
	defer coll.Close()
	row.Loaded = true
	prog := coll.Programs[name]
	row.Insns = insnsOf(prog.VerifierLog)
	l, notTried, err := attach(ps, prog)
	switch {
	case notTried != "":
		row.NotTried = notTried
	case err != nil:
		f := false
		row.Attached, row.Stage, row.Error = &f, "attach", clip(err.Error())
	default:
		t := true
		row.Attached = &t
		l.Close()
	}
	return row
}

func insnsOf(log string) int {
	m := processedInsns.FindAllStringSubmatch(log, -1)
	if len(m) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	return n
}

// loadError is err with a verifier refusal's log cut to its last lines.
func loadError(err error) string {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && len(ve.Log) > 0 {
		// The last lines that are not statistics (LogLevelStats appends
		// them after the refusal).
		var tail []string
		for _, l := range ve.Log {
			if !verifierStats.MatchString(l) {
				tail = append(tail, l)
			}
		}
		if len(tail) > 4 {
			tail = tail[len(tail)-4:]
		}
		msg := err.Error()
		if i := strings.Index(msg, ":"); i > 0 && len(msg) > 200 {
			msg = msg[:i]
		}
		return clip("verifier: " + msg + " | log tail: " + strings.Join(tail, " / "))
	}
	return clip(err.Error())
}

func clip(s string) string {
	if len(s) > maxErrorText {
		return s[:maxErrorText] + "..."
	}
	return s
}

// attach attaches prog as its section says. notTried says why it was not
// tried (the target is given at run time, or the program type is not a
// tracing one).
func attach(ps *ebpf.ProgramSpec, prog *ebpf.Program) (l link.Link, notTried string, err error) {
	kind, _, _ := strings.Cut(ps.SectionName, "/")
	target := ps.AttachTo
	switch {
	case ps.Type == ebpf.Kprobe && ps.AttachType == ebpf.AttachTraceKprobeMulti:
		syms, err := traceableMatching(target)
		if err != nil {
			return nil, "", err
		}
		opts := link.KprobeMultiOptions{Symbols: syms}
		if strings.HasPrefix(kind, "kretprobe") {
			l, err = link.KretprobeMulti(prog, opts)
		} else {
			l, err = link.KprobeMulti(prog, opts)
		}
		return l, "", err
	case ps.Type == ebpf.Kprobe && (kind == "kprobe" || kind == "kretprobe") && target != "":
		sym, off, _ := strings.Cut(target, "+")
		var opts *link.KprobeOptions
		if off != "" {
			o, perr := strconv.ParseUint(off, 0, 64)
			if perr != nil {
				return nil, "", fmt.Errorf("kprobe offset %q: %w", off, perr)
			}
			opts = &link.KprobeOptions{Offset: o}
		}
		if kind == "kretprobe" {
			l, err = link.Kretprobe(sym, prog, opts)
		} else {
			l, err = link.Kprobe(sym, prog, opts)
		}
		return l, "", err
	case ps.Type == ebpf.Kprobe:
		return nil, "needs run-time input: section " + ps.SectionName + " names no kernel function (a uprobe's binary, a syscall alias)", nil
	case ps.Type == ebpf.TracePoint:
		group, name, ok := strings.Cut(target, "/")
		if !ok {
			return nil, "section " + ps.SectionName + " names no group/event", nil
		}
		l, err = link.Tracepoint(group, name, prog, nil)
		return l, "", err
	case ps.Type == ebpf.RawTracepoint || ps.Type == ebpf.RawTracepointWritable:
		l, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: target, Program: prog})
		return l, "", err
	case ps.Type == ebpf.Tracing && ps.AttachType == ebpf.AttachTraceIter:
		l, err = link.AttachIter(link.IterOptions{Program: prog})
		return l, "", err
	case ps.Type == ebpf.Tracing:
		l, err = link.AttachTracing(link.TracingOptions{Program: prog})
		return l, "", err
	case ps.Type == ebpf.LSM:
		l, err = link.AttachLSM(link.LSMOptions{Program: prog})
		return l, "", err
	}
	return nil, "program type " + ps.Type.String() + " attaches to something user space picks (a socket, cgroup, interface or perf event)", nil
}

// traceableMatching returns the functions of available_filter_functions
// that match pattern (a glob), as kprobe_multi resolves them.
func traceableMatching(pattern string) ([]string, error) {
	var f *os.File
	var err error
	for _, p := range []string{"/sys/kernel/tracing/available_filter_functions", "/sys/kernel/debug/tracing/available_filter_functions"} {
		if f, err = os.Open(p); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kprobe_multi %s: %w", pattern, err)
	}
	defer f.Close()
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, _, _ := strings.Cut(sc.Text(), " ")
		if ok, _ := path.Match(pattern, name); ok && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("kprobe_multi: no traceable function matches %q", pattern)
	}
	return out, sc.Err()
}
