package qemu

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// KVMCapable reports whether the host can run KVM guests: the CPU flags in
// cpuinfo (normally /proc/cpuinfo) show vmx or svm and kvm (normally
// /dev/kvm) opens read-write. When it cannot, the error says why. Even a
// capable host may hang its guests (nested setups), so a first boot with a
// deadline must still confirm it.
func KVMCapable(cpuinfo, kvm string) error {
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
	k, err := os.OpenFile(kvm, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", kvm, err)
	}
	k.Close()
	return nil
}
