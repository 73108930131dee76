// Package guest is the guest side of a vmtest run: the init that runs as
// PID 1 inside the VM, and the configuration the host hands it.
//
// The host writes Config as JSON to ConfigPath inside the initramfs (the same
// archive serves every kernel of a run) and passes what differs per kernel on
// the kernel command line (KernelParam).
//
// It runs inside the guest: it may use vmtest/wire for the results stream and
// must not import vmtest, vmtest/report, kernels or QEMU code.
package guest

import (
	"encoding/hex"
	"path"
	"strings"
)

// Paths inside the guest.
const (
	// ConfigPath is where the host puts the run's Config.
	ConfigPath = "/corematrix/config.json"
	// PayloadDir holds the payload binary.
	PayloadDir = "/corematrix/bin"
	// FactsPath is where a payload may write report.Facts as JSON ($CM_FACTS).
	FactsPath = "/run/corematrix/facts.json"
	// ResultsPort is the serial port that carries the results stream.
	ResultsPort = "/dev/ttyS1"
	// ShellPort is the serial port of the interactive shell (vmtest shell,
	// --shell-on-fail), relayed to the user's terminal.
	ShellPort = "/dev/ttyS2"
	// OutputPath is where the payload's output is kept when a shell follows.
	OutputPath = "/run/corematrix/output.log"
	// WorkDir is the payload's working directory when Config.Dir is empty,
	// and its $HOME and $TMPDIR.
	WorkDir = "/tmp"
	// StageDir holds files the host packed for paths anywhere in the guest
	// (StageDir+"/src/pkg/x" becomes "/src/pkg/x"): the init moves them into
	// place after it mounted /proc, /sys, /tmp and /run, so those mounts
	// never shadow them.
	StageDir = "/corematrix/stage"
	// KconfigPath is where the host puts the kernel's config, when known;
	// the init installs it as /boot/config-$(uname -r).
	KconfigPath = "/corematrix/kconfig"
)

// KernelParam is the kernel command-line parameter holding the hex-encoded
// name of the kernel the user asked for (it becomes $CM_KERNEL).
const KernelParam = "corematrix.kernel"

// Environment variables every payload gets.
const (
	EnvVMTest = "CM_VMTEST" // always "1"
	EnvKernel = "CM_KERNEL" // the requested kernel name ("6.1", a path, ...)
	EnvFacts  = "CM_FACTS"  // FactsPath
)

// Config tells the guest init what to run.
type Config struct {
	// Args is the payload's argv; Args[0] is its path inside the guest.
	Args []string `json:"args"`
	// Env holds extra KEY=VALUE pairs, applied after the built-in ones.
	Env []string `json:"env,omitempty"`
	// Dir is the payload's working directory (created when missing); empty
	// means WorkDir.
	Dir string `json:"dir,omitempty"`
	// MakeDirs are directories created before the payload starts (where it
	// is told to write profiles).
	MakeDirs []string `json:"make_dirs,omitempty"`
	// CollectFiles are files sent back to the host, when they exist, after
	// the payload exited.
	CollectFiles []string `json:"collect_files,omitempty"`
	// CollectDirs are directories whose regular files created while the
	// payload ran are sent back after it exited.
	CollectDirs []string `json:"collect_dirs,omitempty"`
	// Shell, when set, starts an interactive busybox shell on ShellPort
	// after the payload (or instead of it, when Args is empty).
	Shell *Shell `json:"shell,omitempty"`
}

// Shell configures the interactive shell.
type Shell struct {
	// OnFail starts the shell only when the payload exited non-zero or
	// could not run.
	OnFail bool `json:"on_fail,omitempty"`
	// Term is the user's $TERM; Rows and Cols the terminal's size.
	Term string `json:"term,omitempty"`
	Rows int    `json:"rows,omitempty"`
	Cols int    `json:"cols,omitempty"`
}

// StagedName returns where a file meant for guest path p goes in the
// initramfs (see StageDir).
func StagedName(p string) string { return StageDir + path.Clean("/"+p) }

// EncodeKernelParam returns the command-line parameter carrying name.
func EncodeKernelParam(name string) string {
	return KernelParam + "=" + hex.EncodeToString([]byte(name))
}

// DecodeKernelParam finds KernelParam in a kernel command line.
func DecodeKernelParam(cmdline string) string {
	for f := range strings.FieldsSeq(cmdline) {
		if v, ok := strings.CutPrefix(f, KernelParam+"="); ok {
			if b, err := hex.DecodeString(v); err == nil {
				return string(b)
			}
		}
	}
	return ""
}

// Environ returns the payload's environment for kernel name and cfg.
func Environ(kernel string, cfg Config) []string {
	env := []string{
		"PATH=/corematrix/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + WorkDir,
		"TMPDIR=" + WorkDir,
		EnvVMTest + "=1",
		EnvKernel + "=" + kernel,
		EnvFacts + "=" + FactsPath,
	}
	return append(env, cfg.Env...)
}
