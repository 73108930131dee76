package vmtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/corematrix/corematrix/internal/beneath"
	"github.com/corematrix/corematrix/internal/redact"
	"github.com/corematrix/corematrix/internal/termtext"
	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest/gotest"
	"github.com/corematrix/corematrix/vmtest/guest"
	"github.com/corematrix/corematrix/vmtest/initramfs"
	"github.com/corematrix/corematrix/vmtest/qemu"
	"github.com/corematrix/corematrix/vmtest/share"
	"github.com/corematrix/corematrix/vmtest/wire"
)

// Runner boots kernels with one initramfs, built once by NewRunner and shared
// by every kernel of the run.
type Runner struct {
	cfg    Config
	tmp    string
	goTest bool
	// countTests: a Go test binary run Raw whose arguments ask for verbose
	// output (-test.v or -test.v=test2json): its tests are counted from
	// the output it was asked for.
	countTests bool
	plainTests bool // countTests from plain -test.v output (no ^V framing)
	accel      *accelChooser
	// busybox are the host's busybox and its applet links.
	busybox []initramfs.File
	// workdir is the archive of the packed working directory, appended
	// for the kernels that take the packed mode; empty without one. It is
	// written once, when the first kernel needs it (workdirOnce).
	workdir     string
	workdirErr  error
	workdirOnce sync.Once
	// shared is what sharing kernels get (nil without Config.ShareHost);
	// daemon serves it over virtiofs (nil, with daemonErr, when none can).
	shared    *share.Set
	daemon    *share.Daemon
	daemonErr error
	// dynamic says the payload needs the host's libraries (it has an ELF
	// interpreter): it runs only where they are shared.
	dynamic bool

	mu     sync.Mutex
	images map[string]*archImage
	// reportLock holds Config.ReportDir for this run (lockReportDir).
	reportLock *os.File
}

// archImage is the initramfs of one guest architecture, built the first
// time a kernel of that architecture boots.
type archImage struct {
	once    sync.Once
	path    string
	qemu    string
	busybox []initramfs.File
	err     error
}

// Result is the outcome of one kernel.
type Result struct {
	report.KernelResult
	// Output is the payload's stdout and stderr as received.
	Output []byte
	// Dir is the kernel's report directory.
	Dir string
	// Files are the files the payload wrote for the host (Config's
	// CollectFiles and CollectDirs), all received intact.
	Files []File
	// timeout is this kernel's deadline: Config.Timeout, or less when the
	// run's Deadline is nearer.
	timeout time.Duration
}

// File is a file the payload wrote in the guest for the host.
type File struct {
	Path string
	Mode os.FileMode
	Data []byte
}

// NewRunner checks that the guest init and the payload are static, and
// builds the initramfs (with busybox, see Config.Busybox). Close removes it.
func NewRunner(cfg Config) (*Runner, error) {
	if cfg.Payload == "" && (cfg.Shell == nil || cfg.Shell.OnFail) {
		return nil, errors.New("no payload")
	}
	if cfg.Init == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find own executable: %w", err)
		}
		cfg.Init = exe
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MemoryMiB <= 0 {
		cfg.MemoryMiB = DefaultMemoryMiB
	}
	if cfg.CPUs <= 0 {
		cfg.CPUs = DefaultCPUs
	}
	if cfg.Jobs <= 0 {
		cfg.Jobs = DefaultJobs(cfg.MemoryMiB)
	}
	if cfg.OutputLimit <= 0 {
		cfg.OutputLimit = wire.DefaultLimit
	}
	warn := func(msg string) {
		if cfg.Log != nil {
			fmt.Fprintln(cfg.Log, "vmtest: warning:", msg)
		}
	}
	accel, err := newAccelChooser(cfg.Accel, warn)
	if err != nil {
		return nil, err
	}
	if cfg.QEMU != "" {
		if _, err := exec.LookPath(cfg.QEMU); err != nil {
			return nil, fmt.Errorf("%w: %s not found (run `make deps`): %w", ErrInfra, cfg.QEMU, err)
		}
	}
	if err := initramfs.CheckStatic(cfg.Init); err != nil {
		return nil, fmt.Errorf("guest init: %w", err)
	}
	dynamic := false
	if cfg.Payload == "" {
		// A shell only (vmtest shell).
	} else if err := initramfs.CheckStatic(cfg.Payload); errors.Is(err, initramfs.ErrNotStatic) && cfg.ShareHost {
		dynamic = true // runs where the host's libraries are shared
	} else if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if cfg.Busybox == "" {
		cfg.Busybox = initramfs.BusyboxPath
	}
	busybox, err := initramfs.Busybox(cfg.Busybox)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInfra, err)
	}
	r := &Runner{cfg: cfg, accel: accel, goTest: !cfg.Raw && gotest.Is(cfg.Payload, cfg.Args), busybox: busybox, dynamic: dynamic}
	if cfg.Raw && gotest.Is(cfg.Payload, cfg.Args) {
		verbosity := gotest.VerbosityOf(cfg.Args)
		r.countTests, r.plainTests = verbosity != gotest.Quiet, verbosity == gotest.Verbose
	}
	if cfg.ReportDir != "" {
		if r.reportLock, err = lockReportDir(cfg.ReportDir); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInfra, err)
		}
	}
	r.tmp, err = os.MkdirTemp("", "vmtest-")
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("%w: %w", ErrInfra, err)
	}
	if err := r.initShare(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// ErrInfra marks errors of the host rather than of a kernel or payload.
var ErrInfra = errors.New("infrastructure")

// image returns the initramfs for guests of arch, building it on first use.
func (r *Runner) image(ctx context.Context, arch string) *archImage {
	r.mu.Lock()
	if r.images == nil {
		r.images = map[string]*archImage{}
	}
	im := r.images[arch]
	if im == nil {
		im = &archImage{}
		r.images[arch] = im
	}
	r.mu.Unlock()
	im.once.Do(func() { im.err = r.buildImage(ctx, arch, im) })
	return im
}

// buildImage finds the emulator, guest init, busybox and payload for arch
// and writes the initramfs.
func (r *Runner) buildImage(ctx context.Context, arch string, im *archImage) error {
	im.qemu = r.cfg.QEMU
	if im.qemu == "" {
		bin, err := qemu.BinaryFor(arch)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInfra, err)
		}
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%w: %s not found (run `make deps`, which installs %s): %w", ErrInfra, bin, qemu.Package(arch), err)
		}
		im.qemu = bin
	}
	init, err := ForArch(r.cfg.Init, arch)
	if err != nil {
		return fmt.Errorf("%w: guest init: %w", ErrInfra, err)
	}
	payload := r.cfg.Payload
	if payload != "" {
		if payload, err = ForArch(payload, arch); err != nil {
			return fmt.Errorf("%w: payload: %w", ErrInfra, err)
		}
	}
	im.busybox = r.busybox
	if host, _ := initramfs.Arch(r.busybox[0].Source); host != arch {
		if r.cfg.BusyboxFor == nil {
			return fmt.Errorf("%w: no busybox for %s guests", ErrInfra, arch)
		}
		src, err := r.cfg.BusyboxFor(ctx, arch)
		if err != nil {
			return fmt.Errorf("%w: busybox for %s guests: %w", ErrInfra, arch, err)
		}
		if a, err := initramfs.Arch(src); err != nil || a != arch {
			return fmt.Errorf("%w: busybox %s is not an %s executable (%s, %v)", ErrInfra, src, arch, a, err)
		}
		if im.busybox, err = initramfs.BusyboxAs(src, r.busybox[0].Source); err != nil {
			return fmt.Errorf("%w: %w", ErrInfra, err)
		}
	}
	im.path = filepath.Join(r.tmp, "initramfs-"+arch+".cpio")
	return r.writeImage(im.path, init, payload, im.busybox)
}

// writeImage writes the run's initramfs at path with the guest init, the
// payload and busybox given (all built for the guest's architecture).
func (r *Runner) writeImage(path, init, payload string, busybox []initramfs.File) error {
	args := r.cfg.Args
	if r.goTest {
		args = gotest.Args(args)
	}
	inGuest := guest.PayloadDir + "/" + filepath.Base(r.cfg.Payload)
	gc := guest.Config{
		Env: r.cfg.Env, Dir: r.cfg.WorkDir,
		MakeDirs: r.cfg.MakeDirs, CollectFiles: r.cfg.CollectFiles, CollectDirs: r.cfg.CollectDirs,
	}
	if r.cfg.Payload != "" {
		gc.Args = append([]string{inGuest}, args...)
	}
	if sh := r.cfg.Shell; sh != nil {
		gc.Shell = &guest.Shell{OnFail: sh.OnFail, Term: os.Getenv("TERM")}
		if sh.In != nil {
			if cols, rows, err := term.GetSize(int(sh.In.Fd())); err == nil {
				gc.Shell.Rows, gc.Shell.Cols = rows, cols
			}
		}
	}
	conf := gc.Encode()
	// Busybox comes first: a later entry of the same name replaces an
	// earlier one when the kernel unpacks the archive, so the payload and
	// the user's files win over an applet link.
	files := append([]initramfs.File{{Name: "/init", Source: init, Mode: 0o755}}, busybox...)
	if payload != "" {
		files = append(files, initramfs.File{Name: inGuest, Source: payload, Mode: 0o755})
	}
	files = append(files, initramfs.File{Name: guest.ConfigPath, Data: conf, Mode: 0o644})
	// The packed working directory is an archive of its own (see
	// workdirArchive), appended for the kernels that take the packed mode.
	for _, f := range r.cfg.Files {
		f.Name = guest.StagedName(f.Name)
		files = append(files, f)
	}
	return writeInitramfs(path, files)
}

// writeInitramfs writes the archive of files at path: a failure is the
// host's.
func writeInitramfs(path string, files []initramfs.File) error {
	if err := initramfs.WriteFile(path, files); err != nil {
		return fmt.Errorf("%w: %w", ErrInfra, err)
	}
	return nil
}

// collects reports whether p is one of Config.CollectFiles or lies under
// one of Config.CollectDirs.
func (r *Runner) collects(p string) bool {
	p = filepath.Clean(p)
	for _, f := range r.cfg.CollectFiles {
		if p == filepath.Clean(f) {
			return true
		}
	}
	for _, d := range r.cfg.CollectDirs {
		if rel, err := filepath.Rel(d, p); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			return true
		}
	}
	return false
}

// kernelInitramfs returns the initramfs for k: the run's for k's
// architecture (base), followed (the kernel unpacks concatenated archives in
// order) by the packed working directory in the packed mode, and an archive
// holding k's config when it is known and, when k shares the host's files,
// what the guest mounts and the modules it loads first.
func (r *Runner) kernelInitramfs(k kernel.Kernel, base string, d share.Decision) (string, error) {
	var extra []initramfs.File
	if k.ConfigPath != "" {
		extra = append(extra, initramfs.File{Name: guest.KconfigPath, Source: k.ConfigPath, Mode: 0o644})
	}
	parts := []string{base}
	if d.Mode == share.Packed {
		wd, err := r.workdirArchive()
		if err != nil {
			return "", err
		}
		if wd != "" {
			parts = append(parts, wd)
		}
	} else {
		extra = append(extra, r.shareFiles(d)...)
	}
	if len(parts) == 1 && len(extra) == 0 {
		return base, nil
	}
	f, err := os.CreateTemp(r.tmp, "initramfs-*.cpio")
	if err != nil {
		return "", fmt.Errorf("kernel initramfs: %w", err)
	}
	for _, p := range parts {
		if err != nil {
			break
		}
		var part *os.File
		if part, err = os.Open(p); err == nil {
			_, err = io.Copy(f, part)
			part.Close()
		}
	}
	if err == nil && len(extra) > 0 {
		err = initramfs.Write(f, extra)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("kernel initramfs: %w", err)
	}
	return f.Name(), nil
}

// Resolve returns k resolved by the Config's Resolver, or k itself when it
// is resolved already.
func (r *Runner) Resolve(ctx context.Context, k kernel.Kernel) (kernel.Kernel, error) {
	if k.Resolved() {
		return k, nil
	}
	if r.cfg.Resolver == nil {
		return k, fmt.Errorf("kernel %s: no resolver for an unresolved kernel", k.Name)
	}
	return r.cfg.Resolver.Resolve(ctx, k)
}

// Close removes the initramfs and lets go of the report directory.
func (r *Runner) Close() error {
	if r.reportLock != nil {
		r.reportLock.Close()
	}
	if r.tmp == "" {
		return nil
	}
	return os.RemoveAll(r.tmp)
}

// Config returns the runner's configuration, defaults filled in.
func (r *Runner) Config() Config { return r.cfg }

// GoTest reports whether the payload is treated as a Go test binary.
func (r *Runner) GoTest() bool { return r.goTest }

// Kernel resolves (unless it is resolved already), boots and classifies one
// kernel. dir receives console.log and the raw results stream; it is created
// when missing. onState may be nil.
func (r *Runner) Kernel(ctx context.Context, k kernel.Kernel, dir string, onState func(State)) *Result {
	return r.kernelWithin(ctx, k, dir, onState, r.cfg.Timeout)
}

// kernelWithin is Kernel with the kernel's deadline given.
func (r *Runner) kernelWithin(ctx context.Context, k kernel.Kernel, dir string, onState func(State), timeout time.Duration) *Result {
	if onState == nil {
		onState = func(State) {}
	}
	start := time.Now()
	res := &Result{Dir: dir, timeout: timeout}
	res.Kernel = k
	res.ExitCode = -1
	o, reason := r.kernel(ctx, res, onState)
	// A reason may quote the guest (or a server): one line, no control
	// characters, wherever it is printed.
	res.Outcome, res.Reason = o, termtext.Line(redact.URLs(reason))
	res.Timings.Total = time.Since(start).Seconds()
	return res
}

// errNotHere says the payload cannot run on this kernel (a dynamically
// linked payload where the host's libraries cannot be shared).
var errNotHere = errors.New("cannot run on this kernel")

// errBeforeBoot says the run was interrupted before QEMU started.
var errBeforeBoot = errors.New("interrupted before the kernel booted")

// kernel runs the steps of Kernel, filling in res, and returns the verdict.
func (r *Runner) kernel(ctx context.Context, res *Result, onState func(State)) (report.Outcome, string) {
	onState(StateResolving)
	k, err := r.Resolve(ctx, res.Kernel)
	if ctx.Err() != nil {
		return report.Interrupted, errBeforeBoot.Error()
	}
	if err != nil {
		return report.Unavailable, err.Error()
	}
	res.Kernel = k
	res.Prediction = r.predict(ctx, k)
	if err := makeKernelDir(r.cfg.ReportDir, res.Dir); err != nil {
		return report.InfraError, fmt.Sprintf("create report directory: %v", err)
	}
	br, accel, err := r.bootKernel(ctx, k, res, onState)
	res.Accel = accel
	switch {
	case errors.Is(err, errBeforeBoot):
		return report.Interrupted, err.Error()
	case errors.Is(err, errNotHere):
		return report.Fail, strings.TrimPrefix(err.Error(), errNotHere.Error()+": ")
	case err != nil && ctx.Err() != nil:
		// Stopped (SIGINT, SIGHUP, ...) while the guest was being prepared
		// (virtiofsd starting, say): an interruption, not the host's fault.
		return report.Interrupted, errBeforeBoot.Error()
	case err != nil:
		return report.InfraError, err.Error()
	}
	return r.judge(br, res)
}

// predict returns the Predictor's prediction for k, nil without one or
// when it fails (a warning).
func (r *Runner) predict(ctx context.Context, k kernel.Kernel) *report.Prediction {
	if r.cfg.Predictor == nil {
		return nil
	}
	p, err := r.cfg.Predictor.Predict(ctx, k)
	if err != nil {
		r.warn("%s: predict: %v", k.Name, err)
		return nil
	}
	return p
}

// warn writes a warning to the Config's Log.
func (r *Runner) warn(format string, args ...any) {
	if r.cfg.Log != nil {
		fmt.Fprintln(r.cfg.Log, "vmtest: warning:", redact.URLs(fmt.Sprintf(format, args...)))
	}
}

// bootKernel boots k once (twice when the KVM probe falls back to TCG),
// recording in res.Sharing how the guest gets its files, and returns what
// the run left behind and the accelerator it ran on.
func (r *Runner) bootKernel(ctx context.Context, k kernel.Kernel, res *Result, onState func(State)) (*bootResult, string, error) {
	dir := res.Dir
	d := r.decide(k)
	res.Sharing = d.Reason
	if d.Mode != share.Packed && r.shared != nil && r.shared.Source != "" {
		res.Sharing += "; " + r.shared.Source
	}
	if d.Mode == share.Packed && r.dynamic {
		return nil, "", fmt.Errorf("%w: the payload is dynamically linked and this kernel can only take the packed mode, where the host's libraries are not shared (%s); rebuild it with CGO_ENABLED=0", errNotHere, d.Reason)
	}
	if d.Mode == share.Packed && r.cfg.ShareHost && r.cfg.Log != nil {
		fmt.Fprintf(r.cfg.Log, "vmtest: %s: %s\n", k.Name, d.Reason)
	}
	arch := GuestArch(k)
	im := r.image(ctx, arch)
	if im.err != nil {
		return nil, "", im.err
	}
	b := &boot{
		qemu: im.qemu, kernel: k, dir: dir,
		memoryMiB: r.cfg.MemoryMiB, cpus: r.cfg.CPUs,
		timeout: res.timeout, onState: onState, follow: r.follower(k.Name),
		limit: r.cfg.OutputLimit,
		share: d, tmp: r.tmp,
	}
	if d.Mode != share.Packed {
		b.exports, b.daemon = r.exports(d), r.daemon
	}
	if err := b.prestart(ctx); err != nil {
		return nil, "", err
	}
	defer b.release()
	defer func() {
		// Slower, not wrong: the report says why (share.Memory).
		if b.memory != nil {
			res.Sharing += "; " + b.memory.Error()
		}
	}()
	img, err := r.kernelInitramfs(k, im.path, d)
	if err != nil {
		return nil, "", err
	}
	if img != im.path {
		defer os.Remove(img)
	}
	accel, probe, err := r.acquireAccel(ctx, arch)
	if ctx.Err() != nil {
		return nil, "", errBeforeBoot
	}
	if err != nil {
		return nil, "", err
	}
	b.initramfs, b.accel = img, accel
	if r.cfg.Shell != nil {
		b.shell, b.shellSock = r.cfg.Shell, filepath.Join(r.tmp, "shell.sock")
	}
	if !probe {
		br, err := b.run(ctx)
		return br, accel, err
	}
	return r.probeBoot(ctx, b)
}

// probeBoot is the run that decides whether KVM works: the boot has the
// probe's deadline for the guest init's first message; a guest that spoke
// settles the run on KVM, one that did not settles it on TCG and boots
// again under TCG.
func (r *Runner) probeBoot(ctx context.Context, b *boot) (*bootResult, string, error) {
	b.helloDeadline = r.accel.probeTO
	br, err := b.run(ctx)
	switch {
	case err == nil && !br.hello.IsZero():
		r.accel.settle(true)
	case ctx.Err() != nil:
		r.accel.abandon()
	case errors.Is(err, errNoHello) || err == nil:
		r.accel.settle(false)
		b.accel, b.helloDeadline = AccelTCG, 0
		// The output so far came from the failed boot: start afresh.
		b.follow = r.follower(b.kernel.Name)
		br, err = b.run(ctx)
	default:
		r.accel.abandon()
	}
	return br, b.accel, err
}

// follower returns the follower that passes the payload's output of kernel
// name on to the Config's Output while the guest runs; nil without one.
func (r *Runner) follower(name string) *wire.Follower {
	if r.cfg.Output == nil {
		return nil
	}
	stdout, stderr := r.cfg.Output(name)
	return wire.NewFollower(wire.SectionPayload, stdout, stderr)
}

// judge classifies what a boot left behind into res, writes the streams
// into the kernel's directory, keeps the files the payload was asked to
// write, and returns the verdict.
func (r *Runner) judge(br *bootResult, res *Result) (report.Outcome, string) {
	br.evidence.GoTest = r.goTest || r.countTests
	br.evidence.PlainTestOutput = r.plainTests
	br.evidence.AllowWarnings = r.cfg.AllowKernelWarnings
	br.evidence.MemoryMiB = r.cfg.MemoryMiB
	br.evidence.Limit = r.cfg.OutputLimit
	v := Classify(br.evidence)
	sanitize(&v)
	if res.Kernel.Release == "" {
		res.Kernel.Release = v.Release
	}
	res.ExitCode, res.Trace = v.ExitCode, v.Trace
	res.Tests, res.Events, res.Facts = v.Tests, v.Events, v.Facts
	res.Warnings = v.Warnings
	res.Output = v.Output
	if !v.Outcome.Passed() {
		res.OutputTail = failureTail(v)
	}
	if err := writeStreams(res.Dir, v.stream, r.goTest || r.countTests); err != nil {
		r.warn("%s: %v", res.Kernel.Name, err)
	}
	for _, f := range v.Files {
		if !r.collects(f.Path) {
			// Only the host decides what comes back: whatever the guest
			// init (which a hostile kernel controls) sent.
			res.Refused = append(res.Refused, report.RefusedFile{Path: f.Path, Reason: "not a file the payload was asked to write"})
			continue
		}
		res.Files = append(res.Files, File{Path: f.Path, Mode: f.Mode, Data: f.Data})
	}
	br.timings(&res.Timings)
	res.Timings.Slowest = report.Slowest(res.Tests, report.SlowestTests)
	return v.Outcome, v.Reason
}

// acquireAccel returns the accelerator for a guest of arch: KVM is possible
// only for the host's own architecture; other guests are emulated (TCG).
func (r *Runner) acquireAccel(ctx context.Context, arch string) (accel string, probe bool, err error) {
	if !qemu.SameArch(arch) {
		return AccelTCG, false, nil
	}
	return r.accel.acquire(ctx)
}

// ErrNoArchBuild means a binary for a guest of another architecture is
// missing: its build for that architecture is looked up beside it.
var ErrNoArchBuild = errors.New("no build for the guest's architecture")

// ForArch returns the build for guests of arch of the static executable at
// path: path itself when it is built for arch, else linux-ARCH/NAME in its
// directory (`make build` puts bin/linux-arm64/vmtest and
// bin/linux-arm64/harness.test beside bin/vmtest and bin/harness.test). The
// error for a missing one wraps ErrNoArchBuild and says how to build it.
func ForArch(path, arch string) (string, error) {
	a, err := initramfs.Arch(path)
	if err != nil {
		return "", err
	}
	if a == arch {
		return path, nil
	}
	alt := filepath.Join(filepath.Dir(path), "linux-"+arch, filepath.Base(path))
	if _, err := os.Stat(alt); err != nil {
		return "", fmt.Errorf("%w: %s is an %s executable and %s does not exist: build it with GOARCH=%s CGO_ENABLED=0 (`make build` builds bin/linux-%s/vmtest and bin/linux-%s/harness.test)",
			ErrNoArchBuild, path, a, alt, arch, arch, arch)
	}
	if err := initramfs.CheckStatic(alt); err != nil {
		return "", err
	}
	if b, err := initramfs.Arch(alt); err != nil || b != arch {
		return "", fmt.Errorf("%w: %s is not an %s executable (%s)", ErrNoArchBuild, alt, arch, b)
	}
	return alt, nil
}

// GuestArch returns k's architecture ("amd64", "arm64"), the host's when
// unset.
func GuestArch(k kernel.Kernel) string {
	if k.Arch == "" {
		return string(kernel.HostArch())
	}
	return string(k.Arch)
}

// sanitize makes the guest's one-line strings (release, warnings, test
// names) single lines without control characters: they reach terminals,
// logs, tables and summaries. Multi-line text (output, traces) keeps its
// lines and is made safe where it is rendered.
func sanitize(v *Verdict) {
	v.Release = termtext.Line(v.Release)
	for i := range v.Warnings {
		v.Warnings[i] = termtext.Line(v.Warnings[i])
	}
	for i := range v.Tests {
		v.Tests[i].Name = termtext.Line(v.Tests[i].Name)
	}
	for i := range v.Events {
		v.Events[i].Test = termtext.Line(v.Events[i].Test)
	}
}

// makeKernelDir creates a kernel's report directory dir without following
// a link: when dir lies in the run's report root, every component below
// the root is created or opened without following links (a planted
// "6.1 -> elsewhere" is refused); the root itself, or dir outside a root,
// must not be a link.
func makeKernelDir(root, dir string) error {
	if root != "" {
		if rel, err := filepath.Rel(root, dir); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			r, err := beneath.MkdirAll(root, 0o755)
			if err != nil {
				return err
			}
			defer r.Close()
			d, err := r.MkdirAll(rel, 0o755)
			if err != nil {
				return err
			}
			return d.Close()
		}
	}
	d, err := beneath.MkdirAll(dir, 0o755)
	if err != nil {
		return err
	}
	return d.Close()
}

// decide chooses k's mode: packed unless Config.ShareHost, else what
// share.Decide finds the kernel can mount.
func (r *Runner) decide(k kernel.Kernel) share.Decision {
	if r.shared == nil {
		return share.Decision{Mode: share.Packed, Reason: "packed: sharing the host's files was not asked for"}
	}
	return share.Decide(k, r.daemon, r.daemonErr)
}

// exports returns what a sharing kernel's guest mounts: the run's exports
// and, when the kernel has one, its modules tree at /lib/modules.
func (r *Runner) exports(d share.Decision) []share.Export {
	ex := append([]share.Export{}, r.shared.Exports...)
	if d.ModulesExport.Tag != "" {
		ex = append(ex, d.ModulesExport)
	}
	return ex
}

// shareFiles returns the files a sharing kernel's archive adds: the
// guest's share configuration and the modules it loads before mounting.
func (r *Runner) shareFiles(d share.Decision) []initramfs.File {
	s := guest.Share{FSType: string(d.Mode), Modules: len(d.BootModules), Env: r.shared.Env, PathAppend: r.shared.PathAppend}
	_, mounts := share.Layout(d.Mode, r.daemon, r.exports(d))
	for _, m := range mounts {
		s.Mounts = append(s.Mounts, guest.Mount{Tag: m.Tag, Sub: m.Sub, Path: m.Path, Overlay: m.Overlay})
	}
	for _, l := range r.shared.Links {
		s.Links = append(s.Links, guest.Link{Path: l.Path, Target: l.Target})
	}
	for _, n := range d.Nodes {
		s.Nodes = append(s.Nodes, guest.Node(n))
	}
	files := []initramfs.File{{Name: guest.SharePath, Data: s.Encode(), Mode: 0o644}}
	for i, m := range d.BootModules {
		files = append(files, initramfs.File{Name: guest.BootModuleName(i), Source: m, Mode: 0o644})
	}
	return files
}

// initShare collects what the run shares and finds its daemon, when
// Config.ShareHost asks for sharing.
func (r *Runner) initShare() error {
	if !r.cfg.ShareHost {
		return nil
	}
	var err error
	r.shared, err = share.Collect(share.Options{WorkDir: r.cfg.WorkDir, Extra: r.cfg.ShareDirs, TmpDir: r.tmp, Environ: os.Environ()})
	if err != nil {
		return err
	}
	if r.shared.SourceAlone && r.cfg.Log != nil {
		fmt.Fprintf(r.cfg.Log, "vmtest: sharing %s (--share DIR adds more)\n", r.shared.Source)
	}
	r.daemon, r.daemonErr = share.FindDaemon()
	return nil
}

// workdirArchive returns the archive of the packed working directory
// (Config.PackWorkDir), writing it the first time: with sharing only a
// kernel that falls back to packing needs it. "" without one.
func (r *Runner) workdirArchive() (string, error) {
	if !r.cfg.PackWorkDir {
		return "", nil
	}
	r.workdirOnce.Do(func() {
		limit := r.cfg.WorkDirLimit
		if limit <= 0 {
			limit = DefaultWorkDirLimit
		}
		tree, _, outside, err := initramfs.TreeLinks(r.cfg.WorkDir, r.cfg.WorkDir, limit, r.cfg.FollowWorkDirLinks)
		if err != nil {
			r.workdirErr = fmt.Errorf("working directory: %w (choose another with --workdir, or --no-workdir)", err)
			return
		}
		if len(outside) > 0 {
			r.warn("%d symbolic link(s) leave the working directory %s and are packed as links, not followed (--follow-links packs what they point at): %s",
				len(outside), r.cfg.WorkDir, strings.Join(outside, ", "))
		}
		for i := range tree {
			tree[i].Name = guest.StagedName(tree[i].Name)
		}
		p := filepath.Join(r.tmp, "workdir.cpio")
		if r.workdirErr = writeInitramfs(p, tree); r.workdirErr == nil {
			r.workdir = p
		}
	})
	return r.workdir, r.workdirErr
}
