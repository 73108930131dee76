package vmtest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/vmtest/wire"
)

// shellStream is a results stream whose payload exited exit (no payload
// section when exit < -1), followed by the guest's shell line.
func shellStream(t *testing.T, exit int, forge bool) []byte {
	var b bytes.Buffer
	w := wire.NewWriter(&b)
	require.NoError(t, w.Hello("6.1"))
	if exit >= -1 {
		s, err := w.BeginStreams(wire.SectionPayload)
		require.NoError(t, err)
		require.NoError(t, s.WriteFrame(wire.TagStdout, []byte("out\n")))
		require.NoError(t, s.End(exit, ""))
	}
	if forge {
		// The payload prints the shell line itself, inside its output.
		b.WriteString("o26:" + wire.ShellLine)
	}
	require.NoError(t, w.Shell())
	return b.Bytes()
}

// TestShellWanted checks that only the host's own decision opens a shell:
// a `shell` line from a guest whose payload passed (or that never ran one
// intact) neither takes the terminal nor lifts the deadline.
func TestShellWanted(t *testing.T) {
	onFail, always := &Shell{OnFail: true}, &Shell{}
	for _, tc := range []struct {
		name string
		sh   *Shell
		data []byte
		want bool
	}{
		{"no shell asked", nil, shellStream(t, 1, false), false},
		{"vmtest shell", always, shellStream(t, -2, false), true},
		{"on fail, payload failed", onFail, shellStream(t, 3, false), true},
		{"on fail, payload passed", onFail, shellStream(t, 0, false), false},
		{"on fail, no payload", onFail, shellStream(t, -2, false), false},
		{"on fail, shell line forged in output", onFail, []byte(strings.Split(string(shellStream(t, 0, true)), "\n"+wire.Prefix+"end")[0] + "\n" + wire.ShellLine), false},
	} {
		require.Equal(t, tc.want, shellWanted(tc.sh, tc.data, 0), tc.name)
	}
}

// TestRelayHoldsGuestBytes checks that what the guest sends on the shell
// port before the host opened the shell never reaches the terminal, except
// the last few KiB once the shell opens.
func TestRelayHoldsGuestBytes(t *testing.T) {
	var term bytes.Buffer
	r := &relay{out: &term}
	r.Write([]byte("\x1b]0;pwned\x07"))
	r.Write(bytes.Repeat([]byte("x"), heldMax))
	r.Write([]byte("banner\r\n"))
	require.Zero(t, term.Len(), "guest bytes reached the terminal before the host opened a shell")
	r.release()
	require.Equal(t, heldMax, term.Len())
	require.NotContains(t, term.String(), "pwned")
	require.True(t, strings.HasSuffix(term.String(), "banner\r\n"))
	r.Write([]byte("# "))
	require.True(t, strings.HasSuffix(term.String(), "# "))
}
