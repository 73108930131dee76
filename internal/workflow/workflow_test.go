package workflow

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runner models how the GitHub Actions runner reads a step's output (its
// ActionCommandManager): each line is tried as a "::NAME props::DATA"
// command (after leading white space) and then as a legacy "##[NAME
// props]DATA" anywhere in the line; NAME must be a known command; while
// stopped, only the stop token resumes.
type runner struct {
	known   map[string]bool
	stopped string
	ran     []string // "NAME DATA" of each command processed
}

func newRunner() *runner {
	known := map[string]bool{}
	for _, c := range []string{"stop-commands", "error", "warning", "notice", "add-mask", "group", "endgroup", "set-output", "debug", "echo"} {
		known[c] = true
	}
	return &runner{known: known}
}

// parse returns the command name and data of line, or ok false.
func (r *runner) parse(line string) (name, data string, ok bool) {
	if t := strings.TrimLeft(line, " \t"); strings.HasPrefix(t, "::") {
		if end := strings.Index(t[2:], "::"); end >= 0 {
			info := t[2 : 2+end]
			name, _, _ = strings.Cut(info, " ")
			if r.known[strings.ToLower(name)] {
				return strings.ToLower(name), t[2+end+2:], true
			}
		}
	}
	if i := strings.Index(line, "##["); i >= 0 {
		if rb := strings.IndexByte(line[i:], ']'); rb >= 0 {
			info := line[i+3 : i+rb]
			name, _, _ = strings.Cut(info, " ")
			if r.known[strings.ToLower(name)] {
				return strings.ToLower(name), line[i+rb+1:], true
			}
		}
	}
	return "", "", false
}

func (r *runner) feed(out string) {
	for line := range strings.SplitSeq(out, "\n") {
		name, data, ok := r.parse(line)
		switch {
		case !ok:
		case r.stopped != "":
			if name == strings.ToLower(r.stopped) {
				r.stopped = ""
				delete(r.known, name)
			}
		case name == "stop-commands":
			r.stopped = data
			r.known[strings.ToLower(data)] = true
		default:
			r.ran = append(r.ran, name+" "+data)
		}
	}
}

// hostile is what a guest prints to take over the log.
const hostile = "::add-mask::secret\n" +
	"  ::error file=.github/workflows/ci.yml,line=1::pwned\n" +
	"::stop-commands::guessed\n" +
	"6.1 | ##[error]legacy anywhere\n" +
	"##[group]fake fold\n" +
	"::endgroup::\n" +
	"::guessed::\n" +
	"::set-output name=x::y\n"

// TestRunnerModel checks the model against the cases the runner's own
// syntax gives: without protection the guest's lines are commands.
func TestRunnerModel(t *testing.T) {
	r := newRunner()
	r.feed(hostile)
	// The guest's own stop silences what follows until its own token
	// resumes: what the issue saw silence vmtest's annotations.
	require.Equal(t, []string{"add-mask secret", "error pwned", "set-output y"}, r.ran, "model")
}

// TestGuardStopsGuestCommands runs a whole vmtest-like output through the
// model: the guard's stop comes first, guest lines (raw and neutralised)
// come in the middle, vmtest's own annotation and the composite action's
// endgroup after the end.
func TestGuardStopsGuestCommands(t *testing.T) {
	for _, neutralise := range []bool{false, true} {
		var out bytes.Buffer
		g := Start(&out, true)
		require.True(t, g.Active())
		token := g.Token()
		guest := hostile
		if neutralise {
			guest = Neutral(guest)
		}
		out.WriteString("##[group]6.1: fail\n") // vmtest's own fold, raw
		out.WriteString(guest)
		out.WriteString("##[endgroup]\n")
		g.Command("::error title=6.1::the kernel failed")
		require.NotContains(t, out.String(), "the kernel failed", "an annotation printed while commands are stopped")
		g.End()
		out.WriteString("::endgroup::\n") // the composite action's own
		r := newRunner()
		r.feed(out.String())
		assert.Equal(t, []string{"error the kernel failed", "endgroup "}, r.ran, "neutralise=%v: commands run:\n%s", neutralise, out.String())
		assert.Empty(t, r.stopped, "commands still stopped at the end")
		assert.NotContains(t, guest, token)
	}
}

// TestNeutral checks that no neutralised line parses as a command, even
// when nothing stops commands.
func TestNeutral(t *testing.T) {
	r := newRunner()
	n := Neutral(hostile)
	r.feed(n)
	require.Empty(t, r.ran, "commands from neutralised text: %q", n)
	require.Equal(t, "plain text: a::b", Neutral("plain text: a::b"))
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Write([]byte(":"))
	w.Write([]byte(":error::x\n##"))
	w.Write([]byte("[error]y"))
	require.NoError(t, w.Flush())
	r = newRunner()
	r.feed(b.String())
	require.Empty(t, r.ran, "commands split across writes: %q", b.String())
}

func TestInactiveGuard(t *testing.T) {
	var out bytes.Buffer
	g := Start(&out, false)
	require.False(t, g.Active())
	g.Command("::error::x")
	g.End()
	require.Equal(t, "::error::x\n", out.String())
}
