package vmtest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/report"
)

// TestE2EHostileGuest runs a Go test that, inside the guest, plants
// .git/hooks/pre-commit, an executable script, ../escape and a link out of
// its -test.outputdir and its coverage directory, and prints workflow
// commands, through `go test -exec 'vmtest exec' -cpuprofile cpu.out
// -cover` under GitHub Actions: cpu.out and the coverage come back, nothing
// planted does, the report lists what was refused, and no guest line reads
// as a workflow command.
func TestE2EHostileGuest(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	pkg := copyPackage(t, "testdata/e2e/hostile")
	reportDir := filepath.Join(t.TempDir(), "report")
	vm := e2e.vmtest + " exec --accel tcg --kernel " + e2eKernelName + " --report " + reportDir
	cmd := exec.Command("go", "test", "-count=1", "-v", "-exec", vm, "-cpuprofile", "cpu.out", "-cover", ".")
	cmd.Dir = pkg
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GITHUB_ACTIONS=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := stdout.String() + stderr.String()
	require.NoError(t, err, "%s", out)
	require.Contains(t, out, "--- PASS: TestHostile")

	// What go test asked for came back.
	prof, err := os.ReadFile(filepath.Join(pkg, "cpu.out"))
	require.NoError(t, err, "cpu.out did not come back")
	require.NotEmpty(t, prof)
	st, err := os.Stat(filepath.Join(pkg, "cpu.out"))
	require.NoError(t, err)
	require.Zero(t, st.Mode()&0o111, "cpu.out is executable")
	require.Regexp(t, `coverage: [0-9.]+% of statements`, out, "the coverage did not come back")

	// Nothing planted did.
	for _, p := range []string{".git", "evil.sh", "link", "link-target-dir", "../escape"} {
		_, err := os.Lstat(filepath.Join(pkg, p))
		require.ErrorIs(t, err, os.ErrNotExist, "%s reached the host", p)
	}

	// The report lists the refusals, with the reason.
	b, err := os.ReadFile(filepath.Join(reportDir, report.SummaryJSON))
	require.NoError(t, err)
	var sum report.Summary
	require.NoError(t, json.Unmarshal(b, &sum))
	require.Len(t, sum.Kernels, 1)
	refused := map[string]string{}
	for _, r := range sum.Kernels[0].Refused {
		refused[r.Path] = r.Reason
	}
	t.Logf("refused: %v", refused)
	for _, p := range []string{filepath.Join(pkg, ".git", "hooks", "pre-commit"), filepath.Join(pkg, "evil.sh")} {
		assert.Contains(t, refused[p], "not a file go test asked for", "%s not listed as refused", p)
	}
	coverRefused := 0
	for p := range refused {
		if strings.HasSuffix(p, "/evil.sh") && !strings.HasPrefix(p, pkg) {
			coverRefused++
		}
	}
	assert.Equal(t, 1, coverRefused, "the script in the coverage directory is not listed: %v", refused)
	md, err := os.ReadFile(filepath.Join(reportDir, report.SummaryMD))
	require.NoError(t, err)
	require.Contains(t, string(md), "### Files refused")

	// No guest line is a workflow command: commands stop before the first
	// guest byte, with a token the guest never saw, and resume at the end.
	lines := strings.Split(stdout.String(), "\n")
	stop := -1
	for i, l := range lines {
		if tok, ok := strings.CutPrefix(l, "::stop-commands::"); ok && strings.HasPrefix(tok, "corematrix-") {
			stop = i
			break
		}
	}
	require.GreaterOrEqual(t, stop, 0, "no stop-commands line:\n%s", stdout.String())
	token := strings.TrimPrefix(lines[stop], "::stop-commands::")
	resume := -1
	for i, l := range lines {
		if l == "::"+token+"::" {
			resume = i
		}
	}
	require.Greater(t, resume, stop, "commands are not resumed")
	for i, l := range lines {
		t2 := strings.TrimSpace(l)
		if strings.Contains(l, "pwned") || strings.Contains(l, "legacy command") || strings.Contains(l, "guessed") || strings.Contains(l, "secret") {
			require.True(t, i > stop && i < resume, "guest line %q outside the stopped region", l)
			require.False(t, strings.HasPrefix(t2, "::") || strings.Contains(l, "##["), "guest line %q still reads as a command", l)
		}
	}
}
