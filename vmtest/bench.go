package vmtest

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/corematrix/corematrix/internal/tinyelf"
	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/report"
	"github.com/corematrix/corematrix/vmtest/initramfs"
)

// BenchKind is one of the three boots a benchmark compares.
type BenchKind string

const (
	// BenchFloor boots the kernel to an /init of a few instructions that
	// powers off: the least any boot costs.
	BenchFloor BenchKind = "floor"
	// BenchBare boots the kernel to a busybox /init that powers off (a
	// shell script running `poweroff -f`): a bare boot as people script
	// one, and what the trivial and suite ratios divide by.
	BenchBare BenchKind = "bare"
	// BenchTrivial runs a payload that exits 0 through the full guest init
	// and results protocol.
	BenchTrivial BenchKind = "trivial"
	// BenchShared is BenchTrivial with the host's files shared (what
	// `vmtest exec` does by default: virtiofs or 9p, the modules it needs
	// loaded, the overlays mounted); its ratio divides by the trivial boot
	// of the same run.
	BenchShared BenchKind = "shared"
	// BenchSuite runs the configured payload.
	BenchSuite BenchKind = "suite"
)

// BenchSample is one timed boot of a benchmark.
type BenchSample struct {
	Kernel  string
	Run     int // 1-based; 0 for the warm-up boot, which is not a sample
	Kind    BenchKind
	Seconds float64 // wall time until the verdict (QEMU exit for bare)
	CPU     float64 // CPU time QEMU used
	// Result is the verdict of a trivial or suite boot.
	Result *Result
}

// BenchKernel is the benchmark of one kernel: every sample's wall time and
// QEMU CPU time per kind, and the suite verdict of median wall time (its
// Timings say where the time went).
type BenchKernel struct {
	Name                                string
	Floor, Bare, Trivial, Shared, Suite []float64
	// SharedMode is how the shared boots got their files (their
	// report's Sharing): a kernel that fell back to packing measures
	// nothing of sharing.
	SharedMode string
	// CPU holds the QEMU CPU seconds of every sample per kind.
	CPU         map[BenchKind][]float64
	SuiteResult *Result
}

// Ratio returns the median over runs of kind's wall time divided by the bare
// boot's of the same run: each pair booted back to back, so that a host
// whose speed drifts between runs (shared CI machines do) moves both. 0 when
// there are no pairs.
func (k BenchKernel) Ratio(kind BenchKind) float64 {
	return pairedRatio(k.samples(kind), k.Bare)
}

// SharedRatio is the median over runs of the shared trivial boot's wall
// time divided by the trivial boot's of the same run: what sharing the
// host's files costs. 0 without pairs.
func (k BenchKernel) SharedRatio() float64 { return pairedRatio(k.Shared, k.Trivial) }

// CPURatio is Ratio of QEMU CPU times.
func (k BenchKernel) CPURatio(kind BenchKind) float64 {
	return pairedRatio(k.CPU[kind], k.CPU[BenchBare])
}

func (k BenchKernel) samples(kind BenchKind) []float64 {
	switch kind {
	case BenchFloor:
		return k.Floor
	case BenchBare:
		return k.Bare
	case BenchTrivial:
		return k.Trivial
	case BenchShared:
		return k.Shared
	case BenchSuite:
		return k.Suite
	}
	return nil
}

func pairedRatio(xs, base []float64) float64 {
	var rs []float64
	for i := range min(len(xs), len(base)) {
		if base[i] > 0 {
			rs = append(rs, xs[i]/base[i])
		}
	}
	return Median(rs)
}

// Median returns the median of xs (0 when empty).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Bench boots every kernel of the runner's configuration runs times each in
// four ways, one boot at a time and side by side (run 1 of every kernel,
// then run 2, ...), so that a host whose load drifts affects them alike:
// floor, bare, with a trivial payload, and with the runner's payload. Report
// directories go under the runner's ReportDir as KERNEL/RUN/KIND. Before run
// 1, one trivial boot of every kernel warms up what the first boot alone
// pays for (resolving the kernel, the host's page cache, the accelerator's
// verdict); it is not a sample (KERNEL/warmup/trivial). onSample, when set,
// hears every sample as it completes, and the warm-up boots as Run 0. Any boot that does not end
// in a passing verdict (floor and bare: QEMU powered off cleanly, no splat)
// stops the benchmark with an error: its timing would mean nothing.
func (r *Runner) Bench(ctx context.Context, runs int, onSample func(BenchSample)) ([]BenchKernel, error) {
	if runs < 1 {
		return nil, fmt.Errorf("bench: runs must be at least 1, got %d", runs)
	}
	images, trivial, err := r.benchRunners()
	if err != nil {
		return nil, err
	}
	defer trivial.Close()
	shared, err := trivial.sharedRunner()
	if err != nil {
		return nil, err
	}
	defer shared.Close()
	out := make([]BenchKernel, len(r.cfg.Kernels))
	suites := make([][]*Result, len(r.cfg.Kernels))
	for _, k := range r.cfg.Kernels {
		name := k.Name
		res := trivial.Kernel(ctx, k, filepath.Join(report.KernelDir(r.cfg.ReportDir, name), "warmup", string(BenchTrivial)), nil)
		if err := benchPassed(name, BenchTrivial, res); err != nil {
			return out, err
		}
		notify(onSample, BenchSample{name, 0, BenchTrivial, res.Timings.Total, res.Timings.QEMUCPU, res})
	}
	for run := 1; run <= runs; run++ {
		for i, k := range r.cfg.Kernels {
			name := k.Name
			out[i].Name = name
			if out[i].CPU == nil {
				out[i].CPU = map[BenchKind][]float64{}
			}
			cpu := func(k BenchKind, secs float64) { out[i].CPU[k] = append(out[i].CPU[k], secs) }
			dir := func(k BenchKind) string {
				return filepath.Join(report.KernelDir(r.cfg.ReportDir, name), fmt.Sprint(run), string(k))
			}
			res := trivial.Kernel(ctx, k, dir(BenchTrivial), nil)
			if err := benchPassed(name, BenchTrivial, res); err != nil {
				return out, err
			}
			out[i].Trivial = append(out[i].Trivial, res.Timings.Total)
			cpu(BenchTrivial, res.Timings.QEMUCPU)
			notify(onSample, BenchSample{name, run, BenchTrivial, res.Timings.Total, res.Timings.QEMUCPU, res})

			res = shared.Kernel(ctx, k, dir(BenchShared), nil)
			if err := benchPassed(name, BenchShared, res); err != nil {
				return out, err
			}
			out[i].Shared = append(out[i].Shared, res.Timings.Total)
			out[i].SharedMode = res.Sharing
			cpu(BenchShared, res.Timings.QEMUCPU)
			notify(onSample, BenchSample{name, run, BenchShared, res.Timings.Total, res.Timings.QEMUCPU, res})

			for _, b := range []struct {
				kind   BenchKind
				floor  bool
				sample *[]float64
			}{{BenchFloor, true, &out[i].Floor}, {BenchBare, false, &out[i].Bare}} {
				secs, cpuSecs, err := trivial.bareBoot(ctx, k, images, b.floor, dir(b.kind))
				if err != nil {
					return out, fmt.Errorf("bench %s: %s boot: %w", name, b.kind, err)
				}
				*b.sample = append(*b.sample, secs)
				cpu(b.kind, cpuSecs)
				notify(onSample, BenchSample{name, run, b.kind, secs, cpuSecs, nil})
			}

			res = r.Kernel(ctx, k, dir(BenchSuite), nil)
			if err := benchPassed(name, BenchSuite, res); err != nil {
				return out, err
			}
			out[i].Suite = append(out[i].Suite, res.Timings.Total)
			cpu(BenchSuite, res.Timings.QEMUCPU)
			suites[i] = append(suites[i], res)
			notify(onSample, BenchSample{name, run, BenchSuite, res.Timings.Total, res.Timings.QEMUCPU, res})
		}
	}
	for i := range out {
		out[i].SuiteResult = medianResult(suites[i])
	}
	return out, nil
}

func notify(f func(BenchSample), s BenchSample) {
	if f != nil {
		f(s)
	}
}

func benchPassed(name string, k BenchKind, res *Result) error {
	if !res.Outcome.Passed() {
		return fmt.Errorf("bench %s: %s boot: %s: %s (report in %s)", name, k, res.Outcome, res.Reason, res.Dir)
	}
	return nil
}

// medianResult returns the result of median total time (the lower middle
// one of an even count).
func medianResult(rs []*Result) *Result {
	if len(rs) == 0 {
		return nil
	}
	s := slices.Clone(rs)
	slices.SortStableFunc(s, func(a, b *Result) int {
		switch {
		case a.Timings.Total < b.Timings.Total:
			return -1
		case a.Timings.Total > b.Timings.Total:
			return 1
		}
		return 0
	})
	return s[(len(s)-1)/2]
}

// benchRunners builds the trivial runner, which shares r's configuration
// and accelerator verdict, and the floor and bare archives (per guest
// architecture, on first use).
func (r *Runner) benchRunners() (images *benchImages, trivial *Runner, err error) {
	t := &Runner{cfg: r.cfg, accel: r.accel, busybox: r.busybox}
	t.cfg.Args, t.cfg.Raw, t.cfg.Files = nil, true, nil
	t.cfg.Predictor = nil
	if t.tmp, err = os.MkdirTemp("", "vmtest-"); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInfra, err)
	}
	// The trivial payload of every architecture: exit0 for the host's,
	// linux-ARCH/exit0 beside it for the others (ForArch finds them).
	t.cfg.Payload = filepath.Join(t.tmp, "exit0")
	for arch, prog := range tiny {
		p := t.cfg.Payload
		if arch != runtime.GOARCH {
			p = filepath.Join(t.tmp, "linux-"+arch, "exit0")
		}
		err := os.MkdirAll(filepath.Dir(p), 0o755)
		if err == nil {
			err = os.WriteFile(p, prog.exit0(), 0o755)
		}
		if err != nil {
			t.Close()
			return nil, nil, fmt.Errorf("%w: write trivial payload: %w", ErrInfra, err)
		}
	}
	return &benchImages{r: t}, t, nil
}

// sharedRunner returns a runner of t's trivial payload that shares the
// host's files, with the current directory as the working directory (what
// `vmtest exec` shares for a package).
func (t *Runner) sharedRunner() (*Runner, error) {
	s := &Runner{cfg: t.cfg, accel: t.accel, busybox: t.busybox}
	s.cfg.ShareHost, s.cfg.PackWorkDir = true, false
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	s.cfg.WorkDir = wd
	if s.tmp, err = os.MkdirTemp("", "vmtest-"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInfra, err)
	}
	if err := s.initShare(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// benchImages holds the floor and bare archives of each guest architecture.
type benchImages struct {
	r      *Runner
	mu     sync.Mutex
	floors map[string]string
	bares  map[string]string
}

// get returns the floor and bare archives for guests of arch.
func (b *benchImages) get(ctx context.Context, arch string) (floor, bare string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f, ok := b.floors[arch]; ok {
		return f, b.bares[arch], nil
	}
	t, ok := tiny[arch]
	if !ok {
		return "", "", fmt.Errorf("bench: no floor program for %s", arch)
	}
	im := b.r.image(ctx, arch)
	if im.err != nil {
		return "", "", im.err
	}
	floor = filepath.Join(b.r.tmp, "floor-"+arch+".cpio")
	if err := writeInitramfs(floor, []initramfs.File{{Name: "/init", Data: t.powerOff(), Mode: 0o755}}); err != nil {
		return "", "", err
	}
	bare = filepath.Join(b.r.tmp, "bare-"+arch+".cpio")
	sh := initramfs.File{Name: "/init", Data: []byte("#!/bin/sh\nexec poweroff -f\n"), Mode: 0o755}
	if err := writeInitramfs(bare, append(slices.Clone(im.busybox), sh)); err != nil {
		return "", "", err
	}
	if b.floors == nil {
		b.floors, b.bares = map[string]string{}, map[string]string{}
	}
	b.floors[arch], b.bares[arch] = floor, bare
	return floor, bare, nil
}

// bareBoot boots kernel k with its architecture's floor or bare archive,
// whose /init powers off at once, and returns the seconds from resolving the
// kernel to QEMU's exit and the CPU seconds QEMU used. The accelerator must
// already be settled.
func (r *Runner) bareBoot(ctx context.Context, k kernel.Kernel, images *benchImages, floor bool, dir string) (wall, cpu float64, err error) {
	start := time.Now()
	k, err = r.resolve(ctx, k)
	if err != nil {
		return 0, 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, err
	}
	floorImg, bareImg, err := images.get(ctx, guestArch(k))
	if err != nil {
		return 0, 0, err
	}
	path := bareImg
	if floor {
		path = floorImg
	}
	accel, probe, err := r.acquireAccel(ctx, guestArch(k))
	if err != nil {
		return 0, 0, err
	}
	if probe {
		r.accel.abandon()
		return 0, 0, errors.New("the accelerator is not settled yet")
	}
	b := &boot{
		qemu: r.image(ctx, guestArch(k)).qemu, kernel: k, initramfs: path, dir: dir,
		memoryMiB: r.cfg.MemoryMiB, cpus: r.cfg.CPUs, accel: accel,
		timeout: r.cfg.Timeout,
	}
	br, err := b.run(ctx)
	if err != nil {
		return 0, 0, err
	}
	secs := time.Since(start).Seconds()
	ev := br.evidence
	switch {
	case ev.TimedOut:
		return 0, 0, fmt.Errorf("no power-off within %s", ev.Timeout)
	case ev.QEMUError != nil:
		return 0, 0, ev.QEMUError
	}
	if s := FindSplat(ev.Console); s != nil {
		return 0, 0, fmt.Errorf("kernel error: %s", s.Line)
	}
	return secs, br.cpu.Seconds(), nil
}

// tinyArch is how the benchmark's tiny programs look on one architecture.
type tinyArch struct {
	machine elf.Machine
	// powerOffText and exit0Text are the raw machine code.
	powerOffText, exit0Text []byte
}

func (t tinyArch) powerOff() []byte { return tinyelf.Executable(t.machine, t.powerOffText) }
func (t tinyArch) exit0() []byte    { return tinyelf.Executable(t.machine, t.exit0Text) }

// tiny holds the benchmark's programs per guest architecture.
var tiny = map[string]tinyArch{
	"amd64": {elf.EM_X86_64, powerOffText, exit0Text},
	"arm64": {elf.EM_AARCH64, powerOffARM64, exit0ARM64},
}

// Machine code of the benchmark's tiny programs (x86-64, raw system calls).
var (
	// powerOffText: reboot(LINUX_REBOOT_CMD_POWER_OFF), then RESTART (ends
	// QEMU too, -no-reboot) should power-off be missing, then spin.
	powerOffText = slices.Concat(
		rebootSeq(0x4321fedc), // POWER_OFF
		rebootSeq(0x01234567), // RESTART
		[]byte{0xeb, 0xfe},    // jmp .
	)
	// exit0Text: exit_group(0).
	exit0Text = []byte{
		0x31, 0xff, // xor edi, edi
		0xb8, 0xe7, 0, 0, 0, // mov eax, 231 (exit_group)
		0x0f, 0x05, // syscall
	}
)

// rebootSeq is reboot(LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, cmd).
func rebootSeq(cmd uint32) []byte {
	b := []byte{
		0xbf, 0xad, 0xde, 0xe1, 0xfe, // mov edi, 0xfee1dead
		0xbe, 0x69, 0x19, 0x12, 0x28, // mov esi, 0x28121969
		0xba, 0, 0, 0, 0, // mov edx, cmd
		0xb8, 0xa9, 0, 0, 0, // mov eax, 169 (reboot)
		0x0f, 0x05, // syscall
	}
	binary.LittleEndian.PutUint32(b[11:], cmd)
	return b
}

// Machine code of the benchmark's tiny programs on arm64 (raw system calls:
// the number in x8, arguments from x0, svc #0).
var (
	powerOffARM64 = slices.Concat(
		rebootARM64(0x4321fedc), // POWER_OFF
		rebootARM64(0x01234567), // RESTART
		arm64Words(0x14000000),  // b .
	)
	// exit0ARM64: exit_group(0).
	exit0ARM64 = arm64Words(
		movz(0, 0, 0),  // mov x0, #0
		movz(8, 94, 0), // mov x8, #94 (exit_group)
		0xd4000001,     // svc #0
	)
)

// rebootARM64 is reboot(LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, cmd).
func rebootARM64(cmd uint32) []byte {
	return arm64Words(
		movz(0, 0xdead, 0), movk(0, 0xfee1, 1), // x0 = 0xfee1dead
		movz(1, 0x1969, 0), movk(1, 0x2812, 1), // x1 = 0x28121969
		movz(2, uint16(cmd), 0), movk(2, uint16(cmd>>16), 1),
		movz(8, 142, 0), // x8 = 142 (reboot)
		0xd4000001,      // svc #0
	)
}

// movz is MOVZ Xd, #imm, LSL #(16*hw); movk is MOVK.
func movz(rd uint32, imm uint16, hw uint32) uint32 {
	return 0xd2800000 | hw<<21 | uint32(imm)<<5 | rd
}

func movk(rd uint32, imm uint16, hw uint32) uint32 {
	return 0xf2800000 | hw<<21 | uint32(imm)<<5 | rd
}

func arm64Words(ws ...uint32) []byte {
	b := make([]byte, 4*len(ws))
	for i, w := range ws {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return b
}
