package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/corematrix/corematrix/vmtest"
	"github.com/corematrix/corematrix/vmtest/initramfs"
	"github.com/corematrix/corematrix/vmtest/qemu"
	"github.com/corematrix/corematrix/vmtest/wire"
)

// vmFlags are the flags run and exec share: how a guest is sized and booted.
type vmFlags struct {
	timeout time.Duration
	memory  int
	cpus    int
	accel   string
	qemu    string
	env     envFlag
	files   fileFlag
	// allowWarnings keeps runs with non-fatal kernel splats a pass.
	allowWarnings bool
	// outputLimit is the budget for what one guest sends back, in MiB.
	outputLimit int
}

func addVMFlags(fs *flags) *vmFlags {
	f := &vmFlags{}
	fs.DurationVar(&f.timeout, "timeout", vmtest.DefaultTimeout, "per-kernel deadline: boot, payload and power-off")
	fs.IntVar(&f.memory, "memory", vmtest.DefaultMemoryMiB, "guest memory in MiB")
	fs.IntVar(&f.cpus, "cpus", vmtest.DefaultCPUs, "guest CPUs")
	fs.Var(accelFlag{&f.accel}, "accel", "accelerator `MODE`: auto (KVM when it really works, else TCG), kvm (refused when KVM is not usable) or tcg")
	f.accel = vmtest.AccelAuto
	fs.StringVar(&f.qemu, "qemu", "", "QEMU binary (default qemu-system-x86_64)")
	fs.Var(&f.env, "env", "`KEY=VALUE` for the payload's environment (repeatable)")
	fs.Var(&f.files, "file", "`HOST[:GUEST]` file or directory to put into the guest, installed after the guest mounted /tmp and /run (repeatable; default GUEST is /corematrix/files/BASENAME)")
	fs.IntVar(&f.outputLimit, "guest-output-limit", wire.DefaultLimit>>20, "MiB one guest may send back in all (results, console, decompressed kernel log, returned files); beyond it QEMU is stopped and the kernel fails")
	fs.BoolVar(&f.allowWarnings, "allow-kernel-warnings", false, "a passing run whose kernel reported a non-fatal splat (WARNING:, RCU stall, hung task, KASAN, ...) stays a pass (the warnings are listed)")
	return f
}

func (f *vmFlags) apply(cfg *vmtest.Config) {
	cfg.Timeout, cfg.MemoryMiB, cfg.CPUs, cfg.Accel, cfg.QEMU = f.timeout, f.memory, f.cpus, f.accel, f.qemu
	cfg.Env = append(vmtest.HostEnv(os.Environ()), f.env...)
	cfg.Files = f.files
	cfg.AllowKernelWarnings = f.allowWarnings
	cfg.OutputLimit = int64(f.outputLimit) << 20
	cfg.Log = os.Stderr
}

// accelFlag is --accel: auto, kvm or tcg. kvm is refused at once on a host
// whose KVM cannot run guests (no vmx/svm CPU flag, no /dev/kvm), rather
// than leaving QEMU to fail or a guest to spin.
type accelFlag struct{ v *string }

func (a accelFlag) String() string {
	if a.v == nil {
		return ""
	}
	return *a.v
}

func (a accelFlag) Set(v string) error {
	switch v {
	case vmtest.AccelAuto, vmtest.AccelTCG:
	case vmtest.AccelKVM:
		if err := kvmCapable(); err != nil {
			return fmt.Errorf("KVM is not usable on this host (%w): use --accel tcg (slower) or auto", err)
		}
	default:
		return fmt.Errorf("unknown accelerator %q: want auto, kvm or tcg", v)
	}
	*a.v = v
	return nil
}

// kvmCapable says why this host cannot run KVM guests, or nil.
var kvmCapable = func() error { return qemu.KVMCapable("/proc/cpuinfo", "/dev/kvm") }

// envFlag collects repeated --env KEY=VALUE.
type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }

func (e *envFlag) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

// fileFlag collects repeated --file HOST[:GUEST].
type fileFlag []initramfs.File

func (f *fileFlag) String() string { return fmt.Sprint(len(*f), " files") }

func (f *fileFlag) Set(v string) error {
	host, guest, ok := strings.Cut(v, ":")
	if !ok || guest == "" {
		guest = "/corematrix/files/" + filepath.Base(host)
	}
	st, err := os.Stat(host)
	if err != nil {
		return err
	}
	if st.IsDir() {
		tree, _, err := initramfs.Tree(host, guest, 0)
		if err != nil {
			return err
		}
		*f = append(*f, tree...)
		return nil
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file or directory", host)
	}
	*f = append(*f, initramfs.File{Name: guest, Source: host, Mode: st.Mode().Perm()})
	return nil
}

// newRunner makes the runner for cfg. Its error exits with exitInfra when
// the host cannot run VMs, exitUsage otherwise.
func newRunner(cfg vmtest.Config) (*vmtest.Runner, error) {
	r, err := vmtest.NewRunner(cfg)
	if err != nil {
		if errors.Is(err, vmtest.ErrInfra) {
			return nil, exitWith(exitInfra, err)
		}
		return nil, usageError(err)
	}
	return r, nil
}

// shareFlags are --share-host and --share DIR.
type shareFlags struct {
	host bool
	dirs stringsFlag
}

// addShareFlags adds --share-host (default def) and --share DIR.
func addShareFlags(fs *flags, def bool) *shareFlags {
	f := &shareFlags{}
	fs.BoolVar(&f.host, "share-host", def, "give the guest the host's /usr, /bin, /lib*, /etc (without credential files), the source tree (enclosing repository or module root), GOROOT and the Go caches, read-only at the same paths with a tmpfs overlay for writes (virtiofs or 9p; kernels that can mount neither fall back to packing)")
	fs.Var(&f.dirs, "share", "`DIR` to share read-only at the same path as well (repeatable; implies --share-host)")
	return f
}

func (f *shareFlags) apply(cfg *vmtest.Config) {
	cfg.ShareHost = f.host || len(f.dirs) > 0
	cfg.ShareDirs = f.dirs
}

// stringsFlag collects a repeated string flag.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	*s = append(*s, v)
	return nil
}
