package corematrix

// The GitHub workflow, the composite action and the example workflow are not
// run here (GitHub runs them); make lint checks their syntax with actionlint.
// This test checks what actionlint cannot: that the commands their run:
// steps (and the action's run script) call exist in this tree — make
// targets, vmtest subcommands and their flags, scripts and files.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// ghStep is what the test reads of a step.
type ghStep struct {
	Name string            `yaml:"name"`
	Run  string            `yaml:"run"`
	Uses string            `yaml:"uses"`
	With map[string]string `yaml:"with"`
}

// runScripts returns the run: steps of a workflow's jobs or an action, by
// file, job and step name, and the action's bash scripts.
func runScripts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	files, err := filepath.Glob(".github/workflows/*.yml")
	require.NoError(t, err)
	examples, err := filepath.Glob("examples/github/*.yml")
	require.NoError(t, err)
	files = append(append(files, examples...), "action.yml")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var doc struct {
			Jobs map[string]struct {
				Steps []ghStep `yaml:"steps"`
			} `yaml:"jobs"`
			Runs struct {
				Steps []ghStep `yaml:"steps"`
			} `yaml:"runs"`
		}
		require.NoError(t, yaml.Unmarshal(raw, &doc), f)
		// Jobs may share step names (each kernel job and the build job
		// enable KVM): the key names the job too.
		steps := map[string][]ghStep{f: doc.Runs.Steps}
		for name, j := range doc.Jobs {
			steps[f+": "+name] = j.Steps
		}
		n := 0
		for where, ss := range steps {
			for _, s := range ss {
				n++
				if s.Run != "" {
					out[where+": "+s.Name] = s.Run
				}
			}
		}
		require.NotZero(t, n, "%s has no steps", f)
	}
	raw, err := os.ReadFile("scripts/action-run.sh")
	require.NoError(t, err)
	out["scripts/action-run.sh"] = string(raw)
	return out
}

// logicalLines joins backslash-continued lines.
func logicalLines(script string) []string {
	return strings.Split(strings.ReplaceAll(script, "\\\n", " "), "\n")
}

var (
	makeCall = regexp.MustCompile(`(?:^|[;&|]\s*|\s)make\s+([a-z][a-z0-9-]*)`)
	// vmtest at a command's position: bin/vmtest, "$bin/vmtest", "$VMTEST".
	vmtestCall = regexp.MustCompile(`(?i)(?:^|[;&|]|\bthen|\bdo)\s*"?[^\s"]*vmtest"?\s+(.*)`)
	flag       = regexp.MustCompile(`(?:^|[\s(])--?([a-z][a-z0-9-]*)`)
	// action-run.sh collects vmtest exec's flags in an array.
	execFlags  = regexp.MustCompile(`^\s*(?:if .*then\s*)?flags\+?=\((.*)\)`)
	subcommand = regexp.MustCompile(`^[a-z]+$`)
	scriptRef  = regexp.MustCompile(`(?:bash|sh)\s+"?(?:\$GITHUB_ACTION_PATH/)?(scripts/[a-z0-9_.-]+\.sh)`)
)

func TestGitHubStepsCallWhatExists(t *testing.T) {
	makefile, err := os.ReadFile("Makefile")
	require.NoError(t, err)
	vmtest := filepath.Join(t.TempDir(), "vmtest")
	build := exec.Command("go", "build", "-o", vmtest, "./cmd/vmtest")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	calls := 0
	for where, script := range runScripts(t) {
		for _, line := range logicalLines(script) {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range makeCall.FindAllStringSubmatch(line, -1) {
				calls++
				assert.Regexp(t, "(?m)^"+regexp.QuoteMeta(m[1])+":", string(makefile), "%s: make %s: no such target", where, m[1])
			}
			for _, m := range scriptRef.FindAllStringSubmatch(line, -1) {
				calls++
				assert.FileExists(t, m[1], "%s", where)
			}
			if m := vmtestCall.FindStringSubmatch(line); m != nil {
				calls++
				checkVMTestCall(t, vmtest, where, strings.Fields(m[1]))
			}
			if m := execFlags.FindStringSubmatch(line); m != nil {
				calls++
				checkVMTestCall(t, vmtest, where, append([]string{"exec"}, strings.Fields(m[1])...))
			}
		}
	}
	// The workflow builds with make, runs vmtest run and report merge, the
	// action runs vmtest exec from its script: a parser that finds nothing
	// checks nothing.
	assert.GreaterOrEqual(t, calls, 6, "commands found in the run: steps")
}

// checkVMTestCall checks that `vmtest ARGS...` names a command that
// exists and that it knows every flag before the payload ("--").
func checkVMTestCall(t *testing.T, vmtest, where string, args []string) {
	t.Helper()
	require.NotEmpty(t, args, "%s: vmtest without a command", where)
	sub := args[:1]
	if len(args) > 1 && subcommand.MatchString(args[1]) {
		sub = args[:2] // report merge, kernels list
	}
	help, _ := exec.Command(vmtest, append(slices.Clone(sub), "--help")...).CombinedOutput()
	name := strings.Join(sub, " ")
	if !assert.Regexp(t, "(?m)^usage: vmtest "+regexp.QuoteMeta(name)+"( |$)", string(help), "%s: vmtest %s: no such command", where, name) {
		return
	}
	rest := strings.Join(args[len(sub):], " ")
	if i := strings.Index(" "+rest+" ", " -- "); i >= 0 {
		rest = rest[:max(0, i-1)] // the payload and its own flags
	}
	for _, f := range flag.FindAllStringSubmatch(rest, -1) {
		assert.Regexp(t, `(?m)^\s+-`+regexp.QuoteMeta(f[1])+`\b`, string(help), "%s: vmtest %s -%s: no such flag", where, name, f[1])
	}
}

// The files the build job uploads for the kernel jobs are what make build
// and the generator produce.
func TestGitHubArtifactsAreBuilt(t *testing.T) {
	raw, err := os.ReadFile(".github/workflows/vmtest.yml")
	require.NoError(t, err)
	var doc struct {
		Jobs map[string]struct {
			Steps []ghStep `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	makefile, err := os.ReadFile("Makefile")
	require.NoError(t, err)
	found := false
	for _, s := range doc.Jobs["build"].Steps {
		if !strings.HasPrefix(s.Uses, "actions/upload-artifact") || s.With["name"] != "binaries" {
			continue
		}
		found = true
		for p := range strings.FieldsSeq(s.With["path"]) {
			switch {
			case strings.HasPrefix(p, "bin/"):
				// make build writes $(BIN)/NAME and $(BIN)/linux-$(OTHER_ARCH)/NAME.
				name := strings.TrimPrefix(strings.TrimPrefix(p, "bin/"), "linux-arm64/")
				assert.Contains(t, string(makefile), "/"+name+" ", "make build does not write %s", p)
			default:
				assert.FileExists(t, p, "uploaded file")
			}
		}
	}
	assert.True(t, found, "the build job uploads no binaries artifact")
}

// kvmGuard opens the block that may touch KVM's device node; kvmCommand is
// a command that fails on a runner without /dev/kvm.
var (
	kvmGuard   = regexp.MustCompile(`^\s*if \[ -e /dev/kvm \]; then\s*$`)
	kvmCommand = regexp.MustCompile(`udevadm|/dev/kvm|kvm4all`)
)

// Every step that sets up KVM does so only when the runner has /dev/kvm:
// GitHub's arm64 runners and some x86 ones have none, and their guests run
// under TCG (vmtest decides that itself).
func TestGitHubKVMStepsAreGuarded(t *testing.T) {
	steps := 0
	for where, script := range runScripts(t) {
		guarded, touched := false, false
		for _, line := range logicalLines(script) {
			switch {
			case kvmGuard.MatchString(line):
				guarded = true
			case guarded && strings.TrimSpace(line) == "fi":
				guarded = false
			case kvmCommand.MatchString(line):
				touched = true
				assert.True(t, guarded, "%s: %q runs without `if [ -e /dev/kvm ]`", where, strings.TrimSpace(line))
			}
		}
		if touched {
			steps++
		}
	}
	// The build job, the kernel jobs and the action enable KVM.
	assert.GreaterOrEqual(t, steps, 3, "steps that set up KVM")
}
