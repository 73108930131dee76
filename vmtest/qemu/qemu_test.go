package qemu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func base() Config {
	return Config{
		Kernel: "/k/bzImage", Initramfs: "/tmp/i.cpio",
		Console: "/r/console.log", Results: "/r/serial1.raw",
		MemoryMiB: 1024, CPUs: 2, Accel: "tcg",
		Append: []string{"corematrix.kernel=362e31"},
	}
}

// flagValues returns the value following each occurrence of flag, in order.
func flagValues(args []string, flag string) []string {
	var v []string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			v = append(v, args[i+1])
		}
	}
	return v
}

func TestArgs(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*Config)
		check  map[string][]string // flag -> values in order
		append []string            // kernel parameters that must be present
	}{
		{
			name: "tcg",
			mod:  func(*Config) {},
			check: map[string][]string{
				"-accel": {"tcg,thread=single"}, "-cpu": {"max"}, "-m": {"1024"}, "-smp": {"2"},
				"-kernel": {"/k/bzImage"}, "-initrd": {"/tmp/i.cpio"},
				"-chardev": {"file,id=console,path=/r/console.log", "file,id=results,path=/r/serial1.raw"},
				// ttyS0 is the first -serial, ttyS1 the second.
				"-serial": {"chardev:console", "chardev:results"},
			},
			append: []string{"console=ttyS0,115200", "earlyprintk=serial,ttyS0,115200", "quiet", "rcupdate.rcu_expedited=1", "panic=-1", "softlockup_panic=1", "no_timer_check", "rdinit=/init", "corematrix.kernel=362e31"},
		},
		{
			name: "arm64 tcg",
			mod:  func(c *Config) { c.Arch = ARM64; c.Kernel = "/k/Image" },
			check: map[string][]string{
				"-machine": {"virt"}, "-accel": {"tcg,thread=single"}, "-cpu": {"max,pauth-impdef=on"},
				"-kernel":  {"/k/Image"},
				"-chardev": {"file,id=console,path=/r/console.log", "file,id=results,path=/r/serial1.raw"},
				// The PL011 (ttyAMA0) is the console; results are the first
				// 16550 on PCI (ttyS0).
				"-serial": {"chardev:console"},
				"-device": {"pci-serial,chardev=results"},
			},
			append: []string{"console=ttyAMA0,115200", "earlycon", "quiet", "panic=-1", "rdinit=/init", "corematrix.kernel=362e31"},
		},
		{
			name: "arm64 shell",
			mod:  func(c *Config) { c.Arch, c.Shell = ARM64, "/t/shell.sock" },
			check: map[string][]string{
				"-serial": {"chardev:console"},
				"-device": {"pci-serial,chardev=results", "pci-serial,chardev=shell"},
			},
		},
		{
			name: "amd64 shell",
			mod:  func(c *Config) { c.Shell = "/t/shell.sock" },
			check: map[string][]string{
				"-machine": {"q35"},
				"-serial":  {"chardev:console", "chardev:results", "chardev:shell"},
				"-device":  nil,
			},
		},
		{
			name:  "kvm",
			mod:   func(c *Config) { c.Accel, c.MemoryMiB, c.CPUs = "kvm", 2048, 4 },
			check: map[string][]string{"-accel": {"kvm"}, "-cpu": {"host"}, "-m": {"2048"}, "-smp": {"4"}},
		},
		{
			name:  "comma in path",
			mod:   func(c *Config) { c.Console = "/r/a,b/console.log" },
			check: map[string][]string{"-chardev": {"file,id=console,path=/r/a,,b/console.log", "file,id=results,path=/r/serial1.raw"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.mod(&c)
			args, err := Args(c)
			require.NoError(t, err)
			for _, f := range []string{"-nodefaults", "-nographic", "-no-reboot"} {
				require.Contains(t, args, f)
			}
			for flag, want := range tt.check {
				require.Equal(t, want, flagValues(args, flag), "flag %s in %q", flag, args)
			}
			appendLine := flagValues(args, "-append")
			require.Len(t, appendLine, 1)
			params := strings.Fields(appendLine[0])
			for _, p := range tt.append {
				require.Contains(t, params, p)
			}
			// A parameter of the other architecture would reach the init
			// as an argument.
			if c.Arch == ARM64 {
				require.NotContains(t, params, "no_timer_check")
				require.NotContains(t, params, "earlyprintk=serial,ttyS0,115200")
			}
		})
	}
}

func TestArgsErrors(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"no kernel":     func(c *Config) { c.Kernel = "" },
		"no results":    func(c *Config) { c.Results = "" },
		"zero memory":   func(c *Config) { c.MemoryMiB = 0 },
		"zero cpus":     func(c *Config) { c.CPUs = 0 },
		"unknown accel": func(c *Config) { c.Accel = "hvf" },
		"auto accel":    func(c *Config) { c.Accel = "auto" }, // must be decided before building args
		"unknown arch":  func(c *Config) { c.Arch = "riscv64" },
	} {
		c := base()
		mod(&c)
		_, err := Args(c)
		require.Error(t, err, name)
	}
}

func TestKVMCapable(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	vmx := write("vmx", "processor\t: 0\nflags\t\t: fpu vme de pse vmx sse\n\nprocessor\t: 1\nflags\t\t: fpu vmx\n")
	svm := write("svm", "flags\t\t: fpu svm lm\n")
	none := write("none", "processor\t: 0\nflags\t\t: fpu vme de pse hypervisor lm\n")
	dev := write("kvm", "")
	tests := []struct {
		cpuinfo, kvm string
		ok           bool
		why          string
	}{
		{vmx, dev, true, ""},
		{svm, dev, true, ""},
		{none, dev, false, "neither vmx nor svm"},
		{vmx, filepath.Join(dir, "missing"), false, "open"},
		{filepath.Join(dir, "nocpuinfo"), dev, false, "cpu flags"},
	}
	for _, tt := range tests {
		err := KVMCapable(tt.cpuinfo, tt.kvm)
		if tt.ok {
			require.NoError(t, err, "%s %s", tt.cpuinfo, tt.kvm)
			continue
		}
		require.ErrorContains(t, err, tt.why, "%s %s", tt.cpuinfo, tt.kvm)
	}
}
