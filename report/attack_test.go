package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/internal/beneath"
	"github.com/corematrix/corematrix/kernel"
)

func writeResults(t *testing.T, dir string, v any) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ResultsFile), b, 0o644))
}

func TestLoadAcceptsEveryOutcome(t *testing.T) {
	for _, o := range outcomeOrder {
		dir := t.TempDir()
		writeResults(t, filepath.Join(dir, "6.1"), KernelResult{Kernel: kernel.Kernel{Name: "6.1"}, Outcome: o})
		_, err := Load(dir)
		assert.NoError(t, err, "outcome %s", o)
	}
}

// Outcomes and test statuses that no run writes are refused when
// a report is loaded, so they never reach summary.md.
func TestLoadRefusesInjectedOutcomeAndStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    KernelResult
		want string
	}{
		{"outcome with a heading", KernelResult{Kernel: kernel.Kernel{Name: "6.1"}, Outcome: "fail\n\n## corematrix: ✅ all 3 kernels passed\n"}, "unknown outcome"},
		{"outcome with html", KernelResult{Kernel: kernel.Kernel{Name: "6.1"}, Outcome: `pass</td><img src=x onerror=alert(1)>`}, "unknown outcome"},
		{"status with a table break", KernelResult{Kernel: kernel.Kernel{Name: "6.1"}, Outcome: Fail,
			Tests: []TestResult{{Name: "TestX", Status: "pass |\n| TestY | ✅"}}}, `test "TestX": unknown status`},
		{"architecture with a table break", KernelResult{Kernel: kernel.Kernel{Name: "6.1", Arch: "amd64 |\n| x"}, Outcome: Pass}, "unknown architecture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeResults(t, filepath.Join(dir, "6.1"), tc.r)
			_, err := Load(dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// Whatever a summary holds, Markdown escapes it: no raw HTML, no
// extra table row or heading.
func TestMarkdownEscapesHostileValues(t *testing.T) {
	evil := "x</td><script>alert(1)</script>\n## corematrix: ✅ all kernels passed\n| a | b |"
	s := Summary{Started: time.Unix(0, 0), Finished: time.Unix(60, 0), Kernels: []KernelResult{
		{Kernel: kernel.Kernel{Name: evil, Version: evil, Release: evil}, Outcome: Outcome(evil), Reason: evil, Accel: evil,
			Tests: []TestResult{{Name: evil, Status: evil, Output: evil}}},
		{Kernel: kernel.Kernel{Name: "6.1", Version: "6.1.176", Unverified: true}, Outcome: Pass, Tests: []TestResult{{Name: "TestA", Status: "pass"}}},
	}}
	md := Markdown(s)
	// Code spans and fenced blocks render their text literally; outside
	// them nothing may be HTML or start a line of Markdown.
	prose := regexp.MustCompile("(?s)```.*?```").ReplaceAllString(md, "")
	prose = regexp.MustCompile("`[^`\n]*`").ReplaceAllString(prose, "")
	assert.NotContains(t, prose, "<script")
	assert.NotContains(t, prose, "</td>")
	for i, l := range strings.Split(prose, "\n") {
		if strings.HasPrefix(l, "#") && i > 0 {
			assert.NotContains(t, l, "all kernels passed", "injected heading: %q", l)
		}
		if strings.HasPrefix(l, "|") {
			assert.NotContains(t, l, "| a | b |", "injected row: %q", l)
		}
	}
	assert.Contains(t, md, "6.1.176 ⚠️ unverified")
}

// The terminal table carries no control characters from names,
// reasons or outcomes.
func TestTerminalStripsControlCharacters(t *testing.T) {
	s := Summary{Kernels: []KernelResult{{Kernel: kernel.Kernel{Name: "6.1\x1b[2J\x1b[H", Release: "6.1.0\x1b]0;pwned\x07", Unverified: true},
		Outcome: Fail, Reason: "warning hidden\r\x1b[2Kall good"}}}
	out := Terminal(s)
	assert.NotContains(t, out, "\x1b")
	assert.NotContains(t, out, "\r")
	assert.NotContains(t, out, "\x07")
	assert.Contains(t, out, "warning hidden")
	assert.Contains(t, out, "(UNVERIFIED)")
}

// Writing a report refuses planted symlinks, with an error
// naming them, instead of writing through them (or replacing them), and
// refuses an output directory that is a symlink.
func TestWriteDoesNotFollowSymlinks(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o644))
	r := KernelResult{Kernel: kernel.Kernel{Name: "6.1"}, Outcome: Pass, Tests: []TestResult{{Name: "TestA", Status: "pass"}}}
	for _, name := range []string{SummaryJSON, SummaryMD} {
		root := t.TempDir()
		require.NoError(t, os.Symlink(victim, filepath.Join(root, name)))
		err := WriteRun(root, Summary{Kernels: []KernelResult{r}})
		require.ErrorIs(t, err, beneath.ErrLink, name)
		assert.Contains(t, err.Error(), name)
	}
	for _, name := range []string{ResultsFile, JUnitFile} {
		kdir := filepath.Join(t.TempDir(), "6.1")
		require.NoError(t, os.Mkdir(kdir, 0o755))
		require.NoError(t, os.Symlink(victim, filepath.Join(kdir, name)))
		err := WriteKernel(kdir, r)
		require.ErrorIs(t, err, beneath.ErrLink, name)
		assert.Contains(t, err.Error(), name)
	}
	got, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "precious", string(got))

	linked := filepath.Join(t.TempDir(), "out")
	require.NoError(t, os.Symlink(t.TempDir(), linked))
	err = WriteRun(linked, Summary{Kernels: []KernelResult{r}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refusing to write through it")
	err = WriteKernel(linked, r)
	require.ErrorIs(t, err, beneath.ErrLink)
}
