package guest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Paths inside the guest.
const (
	// ConfigPath is where the host puts the run's Config.
	ConfigPath = "/corematrix/config"
	// PayloadDir holds the payload binary.
	PayloadDir = "/corematrix/bin"
	// FactsPath is where a payload may write report.Facts as JSON ($CM_FACTS).
	FactsPath = "/run/corematrix/facts.json"
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

// StartedLine is the guest init's first line on the console: the kernel ran
// and started the init (an arm64 console shows no "Linux version" banner).
const StartedLine = "corematrix: guest init started"

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
	Args []string
	// Env holds extra KEY=VALUE pairs, applied after the built-in ones.
	Env []string
	// Dir is the payload's working directory (created when missing); empty
	// means WorkDir.
	Dir string
	// MakeDirs are directories created before the payload starts (where it
	// is told to write profiles).
	MakeDirs []string
	// CollectFiles are files sent back to the host, when they exist, after
	// the payload exited.
	CollectFiles []string
	// CollectDirs are directories whose regular files created while the
	// payload ran are sent back after it exited.
	CollectDirs []string
	// Shell, when set, starts an interactive busybox shell on ShellPort
	// after the payload (or instead of it, when Args is empty).
	Shell *Shell
}

// Shell configures the interactive shell.
type Shell struct {
	// OnFail starts the shell only when the payload exited non-zero or
	// could not run.
	OnFail bool
	// Term is the user's $TERM; Rows and Cols the terminal's size.
	Term string
	Rows int
	Cols int
}

// configHeader is the first line of an encoded Config.
const configHeader = "corematrix-config v1"

// Encode returns c in the config file format: a header line, then one line
// per value, the field's key, a space and the value as a Go-quoted string.
// A list repeats its key; a shell adds a "shell" line and its settings.
func (c Config) Encode() []byte {
	var b bytes.Buffer
	b.WriteString(configHeader + "\n")
	put := func(key string, vals ...string) {
		for _, v := range vals {
			fmt.Fprintf(&b, "%s %s\n", key, strconv.Quote(v))
		}
	}
	put("arg", c.Args...)
	put("env", c.Env...)
	if c.Dir != "" {
		put("dir", c.Dir)
	}
	put("make_dir", c.MakeDirs...)
	put("collect_file", c.CollectFiles...)
	put("collect_dir", c.CollectDirs...)
	if sh := c.Shell; sh != nil {
		put("shell", strconv.FormatBool(sh.OnFail))
		put("shell.term", sh.Term)
		put("shell.rows", strconv.Itoa(sh.Rows))
		put("shell.cols", strconv.Itoa(sh.Cols))
	}
	return b.Bytes()
}

// ParseConfig decodes what Config.Encode wrote. An unknown key, a value
// that is not a quoted string, or a shell setting without a shell line is
// an error: host and guest are the same binary.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	lines := strings.Split(string(b), "\n")
	if lines[0] != configHeader {
		return c, fmt.Errorf("config: first line is %q, want %q", short(lines[0]), configHeader)
	}
	for i, line := range lines[1:] {
		if line == "" {
			continue
		}
		key, q, _ := strings.Cut(line, " ")
		v, err := strconv.Unquote(q)
		if err != nil {
			return c, fmt.Errorf("config line %d (%s): value %q is not a quoted string", i+2, key, short(q))
		}
		if strings.HasPrefix(key, "shell.") && c.Shell == nil {
			return c, fmt.Errorf("config line %d: %s before the shell line", i+2, key)
		}
		switch key {
		case "arg":
			c.Args = append(c.Args, v)
		case "env":
			c.Env = append(c.Env, v)
		case "dir":
			c.Dir = v
		case "make_dir":
			c.MakeDirs = append(c.MakeDirs, v)
		case "collect_file":
			c.CollectFiles = append(c.CollectFiles, v)
		case "collect_dir":
			c.CollectDirs = append(c.CollectDirs, v)
		case "shell":
			c.Shell = &Shell{}
			c.Shell.OnFail, err = strconv.ParseBool(v)
		case "shell.term":
			c.Shell.Term = v
		case "shell.rows":
			c.Shell.Rows, err = strconv.Atoi(v)
		case "shell.cols":
			c.Shell.Cols, err = strconv.Atoi(v)
		default:
			return c, fmt.Errorf("config line %d: unknown key %q", i+2, short(key))
		}
		if err != nil {
			return c, fmt.Errorf("config line %d (%s): %w", i+2, key, err)
		}
	}
	return c, nil
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
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

// defaultPath is the payload's PATH.
const defaultPath = "/corematrix/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Environ returns the payload's environment for kernel name and cfg.
func Environ(kernel string, cfg Config) []string {
	env := []string{
		"PATH=" + defaultPath,
		"HOME=" + WorkDir,
		"TMPDIR=" + WorkDir,
		EnvVMTest + "=1",
		EnvKernel + "=" + kernel,
		EnvFacts + "=" + FactsPath,
	}
	return append(env, cfg.Env...)
}
