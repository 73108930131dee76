package vmtest

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/corematrix/corematrix/kernel"
	"github.com/corematrix/corematrix/vmtest/initramfs"
)

// Derive returns a runner of a copy of r's configuration changed by change,
// sharing r's accelerator verdict and host busybox: what a benchmark boots
// beside r's payload without settling the accelerator twice. Its payload
// is not checked (it must be a static executable); it shares the host's
// files when the changed configuration asks for it. Close removes its
// files.
func (r *Runner) Derive(change func(*Config)) (*Runner, error) {
	d := &Runner{cfg: r.cfg, accel: r.accel, busybox: r.busybox}
	change(&d.cfg)
	var err error
	if d.tmp, err = os.MkdirTemp("", "vmtest-"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInfra, err)
	}
	if err := d.initShare(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Busybox returns busybox and its applet links for guests of arch, as the
// runner's initramfs for arch holds them (building that initramfs on first
// use).
func (r *Runner) Busybox(ctx context.Context, arch string) ([]initramfs.File, error) {
	im := r.image(ctx, arch)
	return im.busybox, im.err
}

// PowerOff boots the resolved kernel k with the initramfs at archive
// alone, whose /init must power the guest off at once, and returns the CPU
// seconds QEMU used. dir receives console.log. The accelerator must already
// be settled (a boot of r's payload settles it). A boot that times out,
// that QEMU fails, or whose console shows a kernel error is an error.
func (r *Runner) PowerOff(ctx context.Context, k kernel.Kernel, archive, dir string) (cpu float64, err error) {
	arch := GuestArch(k)
	accel, probe, err := r.acquireAccel(ctx, arch)
	if err != nil {
		return 0, err
	}
	if probe {
		r.accel.abandon()
		return 0, errors.New("the accelerator is not settled yet")
	}
	b := &boot{
		qemu: r.image(ctx, arch).qemu, kernel: k, initramfs: archive, dir: dir,
		memoryMiB: r.cfg.MemoryMiB, cpus: r.cfg.CPUs, accel: accel,
		timeout: r.cfg.Timeout,
	}
	br, err := b.run(ctx)
	if err != nil {
		return 0, err
	}
	ev := br.evidence
	switch {
	case ev.TimedOut:
		return 0, fmt.Errorf("no power-off within %s", ev.Timeout)
	case ev.QEMUError != nil:
		return 0, ev.QEMUError
	}
	if s := FindSplat(ev.Console); s != nil {
		return 0, fmt.Errorf("kernel error: %s", s.Line)
	}
	return br.cpu.Seconds(), nil
}
