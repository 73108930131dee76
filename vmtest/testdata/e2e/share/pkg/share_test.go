// Package pkg runs in a sharing guest (vmtest exec): it reads the module's
// files outside its own directory, uses the host's tools, writes where it
// likes (the host must see none of it), and makes the kernel load a module
// on demand.
package pkg

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestHostFilesReadOnly(t *testing.T) {
	if os.Getenv("CM_VMTEST") != "1" {
		t.Fatal("not in a vmtest guest")
	}
	in, err := os.ReadFile("../testdata/in.txt")
	if err != nil || string(in) != "read through ../testdata\n" {
		t.Fatalf("../testdata/in.txt: %q, %v", in, err)
	}
	if _, err := os.Stat("../go.mod"); err != nil {
		t.Fatalf("the module's go.mod: %v", err)
	}
	for _, tool := range []string{"go", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Errorf("the host's %s: %v", tool, err)
		}
	}
	if out, err := exec.Command("go", "env", "GOROOT").CombinedOutput(); err != nil {
		t.Errorf("go env GOROOT: %v: %s", err, out)
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Errorf("/etc/passwd: %v", err)
	}
	for _, secret := range []string{"/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/root/.bash_history", "/etc/ssh"} {
		if _, err := os.Lstat(secret); err == nil {
			t.Errorf("%s is in the guest", secret)
		}
	}
	// Writes land in the guest's overlay, never on the host.
	// (Not into the package directory: with -coverprofile it is go test's
	// -test.outputdir, whose new files come back as go test expects.)
	for _, p := range []string{"../testdata/in.txt", "../testdata/guest-wrote.txt", "/usr/cm-e2e-guest-wrote", "/etc/cm-e2e-guest-wrote"} {
		if err := os.WriteFile(p, []byte("written in the guest\n"), 0o644); err != nil {
			t.Errorf("write %s: %v", p, err)
		}
	}
	if in, _ := os.ReadFile("../testdata/in.txt"); string(in) != "written in the guest\n" {
		t.Errorf("the guest does not read its own write: %q", in)
	}
}

// TestModuleOnDemand creates a dummy link: the kernel asks its module loader
// for rtnl-link-dummy, which busybox modprobe finds in the kernel's own
// modules (modules.alias).
func TestModuleOnDemand(t *testing.T) {
	out, err := exec.Command("ip", "link", "add", "cme2e0", "type", "dummy").CombinedOutput()
	if err != nil {
		t.Fatalf("ip link add type dummy: %v: %s", err, out)
	}
	mods, err := os.ReadFile("/proc/modules")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mods), "dummy ") {
		t.Errorf("dummy is not loaded:\n%s", mods)
	}
}

// TestDeviceNodeOnDemand opens /dev/net/tun, a node the guest makes for a
// module that is not loaded yet: opening it makes the kernel load tun.
func TestDeviceNodeOnDemand(t *testing.T) {
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open /dev/net/tun: %v", err)
	}
	f.Close()
	mods, _ := os.ReadFile("/proc/modules")
	if !strings.Contains(string(mods), "tun ") {
		t.Errorf("tun is not loaded:\n%s", mods)
	}
}
