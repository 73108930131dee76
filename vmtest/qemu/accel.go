package qemu

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// KVMCapable reports whether the host can run KVM guests of its own
// architecture: on an x86 host the CPU flags in cpuinfo (normally
// /proc/cpuinfo) show vmx or svm, and on any host kvm (normally /dev/kvm)
// opens read-write (arm64 CPUs list no virtualization flag). When it cannot,
// the error says why. Even a capable host may hang its guests (nested
// setups), so a first boot with a deadline must still confirm it. KVM never
// runs a guest of another architecture: see SameArch.
func KVMCapable(cpuinfo, kvm string) error {
	if runtime.GOARCH == AMD64 {
		if err := x86Virt(cpuinfo); err != nil {
			return err
		}
	}
	k, err := os.OpenFile(kvm, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", kvm, err)
	}
	k.Close()
	return nil
}

// SameArch reports whether a guest of arch runs natively on this host (KVM
// is possible); other guests are emulated (TCG).
func SameArch(arch string) bool {
	if arch == "" {
		arch = AMD64
	}
	return arch == runtime.GOARCH
}

// x86Virt checks that the CPU flags show vmx or svm.
func x86Virt(cpuinfo string) error {
	f, err := os.Open(cpuinfo)
	if err != nil {
		return fmt.Errorf("read cpu flags: %w", err)
	}
	defer f.Close()
	virt := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(key) != "flags" {
			continue
		}
		for fl := range strings.FieldsSeq(val) {
			if fl == "vmx" || fl == "svm" {
				virt = true
			}
		}
		break
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read cpu flags: %w", err)
	}
	if !virt {
		return fmt.Errorf("the CPU flags show neither vmx nor svm")
	}
	return nil
}
