package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
)

const hostileText = `pwned [click me](https://evil.example/x) ![track](http://evil.example/p.png) www.evil.example <img src=x> \[still\](escaped) a|b`

func TestEscapeMarkdown(t *testing.T) {
	for in, want := range map[string]string{
		"kernel < 5.5":           "kernel < 5.5",
		"a|b":                    `a\|b`,
		"[x](https://e.x/)":      `\[x\](https\://e.x/)`,
		"![i](http://e.x/i.png)": `!\[i\](http\://e.x/i.png)`,
		"see www.e.x or awww.x":  `see www\.e.x or awww.x`,
		`\[x\](y)`:               `\\\[x\\\](y)`,
		"<script>":               "&lt;script>",
	} {
		assert.Equal(t, want, EscapeMarkdown(in), "EscapeMarkdown(%q)", in)
	}
}

// TestMarkdownNeutralisesLinks renders a summary whose every guest string
// carries links, images and HTML: none survives into summary.md.
func TestMarkdownNeutralisesLinks(t *testing.T) {
	k := KernelResult{
		Kernel:  kernel.Kernel{Name: "6.1", Release: hostileText},
		Outcome: Fail, Reason: hostileText, OutputTail: hostileText + "\n",
		Warnings: []string{hostileText},
		Tests:    []TestResult{{Name: "TestX/" + hostileText, Status: "fail", Output: hostileText + "\n"}},
		Refused:  []RefusedFile{{Path: "/src/" + hostileText, Reason: hostileText}},
	}
	md := Markdown(Summary{Kernels: []KernelResult{k}, Args: &Args{Summary: hostileText, Notes: []string{hostileText}}})
	fenced := false
	for line := range strings.SplitSeq(md, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue // a code block: no link is rendered there
		}
		for _, bad := range []string{"](", "![", "https://", "http://", "www.evil", "<img"} {
			require.NotContains(t, outsideCode(line), bad, "a link survives in line %q", line)
		}
	}
	require.Contains(t, md, "refused", "refused files are listed")
}

// outsideCode drops the code spans of a Markdown line (links are not
// rendered there) and turns each backslash-escaped character into '_'
// (an escaped character is literal text).
func outsideCode(line string) string {
	var b strings.Builder
	in := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '`':
			in = !in
		case in:
		case c == '\\' && i+1 < len(line):
			b.WriteString("__")
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// TestCredentialsRedacted checks that a mirror URL with user:password in a
// reason (an error quoting the URL) reaches neither summary.md nor the
// terminal table.
func TestCredentialsRedacted(t *testing.T) {
	k := KernelResult{Kernel: kernel.Kernel{Name: "6.1"}, Outcome: Unavailable,
		Reason: `fetch "https://alice:s3cret@mirror.example/debian/dists/bookworm/InRelease": 401`}
	s := Summary{Kernels: []KernelResult{k}}
	for name, out := range map[string]string{"markdown": Markdown(s), "terminal": Terminal(s)} {
		require.NotContains(t, out, "s3cret", name)
		require.NotContains(t, out, "alice", name)
		require.Contains(t, out, "mirror.example", name)
	}
}

// TestPinnedKernelFlagged checks that every rendering names a kernel's
// source and flags one kernels.lock pinned to a non-default source.
func TestPinnedKernelFlagged(t *testing.T) {
	k := KernelResult{Kernel: kernel.Kernel{Name: "6.1", Version: "6.1.176", Source: "local:/home/user/bzImage", PinnedElsewhere: true}, Outcome: Pass}
	s := Summary{Kernels: []KernelResult{k}}
	md := Markdown(s)
	require.Contains(t, md, "`local:/home/user/bzImage`")
	require.Contains(t, md, "pinned by kernels.lock to a non-default source")
	require.Contains(t, Terminal(s), "PINNED by kernels.lock: local:/home/user/bzImage")
}
