package vmtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/corematrix/corematrix/vmtest/qemu"
)

// Accelerator modes.
const (
	AccelAuto = "auto"
	AccelKVM  = "kvm"
	AccelTCG  = "tcg"
)

// kvmProbeDeadline is how long the first KVM boot may take until the guest
// init speaks. A working KVM guest gets there in about a second; a host whose
// /dev/kvm exists but cannot run guests spins forever.
const kvmProbeDeadline = 20 * time.Second

// accelChooser decides the accelerator once per run. In auto mode KVM is used
// only when the CPU flags show vmx/svm, /dev/kvm opens, and the first KVM boot
// reaches the guest init before kvmProbeDeadline; otherwise TCG, with one warning.
type accelChooser struct {
	mode    string
	capable func() error // nil error: worth probing KVM
	warn    func(string)
	probeTO time.Duration

	mu      sync.Mutex
	verdict string        // "", AccelKVM or AccelTCG
	probing chan struct{} // closed when the probe settles
}

func newAccelChooser(mode string, warn func(string)) (*accelChooser, error) {
	switch mode {
	case "", AccelAuto:
		mode = AccelAuto
	case AccelKVM, AccelTCG:
	default:
		return nil, fmt.Errorf("unknown accelerator %q (want auto, kvm or tcg)", mode)
	}
	c := &accelChooser{
		mode:    mode,
		capable: func() error { return qemu.KVMCapable("/proc/cpuinfo", "/dev/kvm") },
		warn:    warn,
		probeTO: kvmProbeDeadline,
	}
	if mode != AccelAuto {
		c.verdict = mode
	}
	return c, nil
}

// acquire returns the accelerator to boot with. When probe is true the caller
// boots with KVM under a hello deadline and must call settle with the outcome.
func (c *accelChooser) acquire(ctx context.Context) (accel string, probe bool, err error) {
	for {
		c.mu.Lock()
		if c.verdict != "" {
			v := c.verdict
			c.mu.Unlock()
			return v, false, nil
		}
		if c.probing == nil {
			if err := c.capable(); err != nil {
				c.verdict = AccelTCG
				c.mu.Unlock()
				c.warn(fmt.Sprintf("KVM is not usable (%v); using TCG, which is much slower", err))
				return AccelTCG, false, nil
			}
			c.probing = make(chan struct{})
			c.mu.Unlock()
			return AccelKVM, true, nil
		}
		wait := c.probing
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return "", false, ctx.Err()
		}
	}
}

// settle records the probe's outcome; ok is false when the KVM boot did not
// reach the guest init in time.
func (c *accelChooser) settle(ok bool) {
	c.mu.Lock()
	if ok {
		c.verdict = AccelKVM
	} else {
		c.verdict = AccelTCG
	}
	close(c.probing)
	c.mu.Unlock()
	if !ok {
		c.warn(fmt.Sprintf("KVM is present but the first KVM guest did not reach its init within %s; using TCG, which is much slower", c.probeTO))
	}
}

// abandon releases a probe that ended for another reason (QEMU failed,
// context cancelled) so that another kernel can probe.
func (c *accelChooser) abandon() {
	c.mu.Lock()
	if c.verdict == "" && c.probing != nil {
		close(c.probing)
		c.probing = nil
	}
	c.mu.Unlock()
}
