package report

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reporter is the part of testing.T the checker uses, so a test can check
// that the checker itself fails on broken input.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

type recorder struct{ failed bool }

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }

// unescapedPipes counts the column separators of a GitHub table row: pipes not
// preceded by a backslash.
func unescapedPipes(row string) int {
	n := 0
	for i := 0; i < len(row); i++ {
		if row[i] == '|' && (i == 0 || row[i-1] != '\\') {
			n++
		}
	}
	return n
}

var tagRE = regexp.MustCompile(`<(/?)(details|summary)>`)

// checkMarkdown checks what breaks GitHub rendering: table rows whose cell
// count differs from their header, unbalanced code fences and unbalanced
// <details>/<summary> tags.
func checkMarkdown(t reporter, name, md string) {
	t.Helper()
	lines := strings.Split(md, "\n")
	fence := ""
	header := -1
	depth := map[string]int{}
	for i, l := range lines {
		if fence != "" {
			if strings.TrimSpace(l) == fence {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(l, "```") {
			fence = l[:len(l)-len(strings.TrimLeft(l, "`"))]
			header = -1
			continue
		}
		if strings.HasPrefix(l, "|") {
			if header < 0 {
				header = unescapedPipes(l)
			} else if got := unescapedPipes(l); got != header {
				assert.Fail(t, fmt.Sprintf("%s line %d has %d cell separators, its table header %d: %s", name, i+1, got, header, l))
			}
		} else {
			header = -1
		}
		for _, m := range tagRE.FindAllStringSubmatch(l, -1) {
			if m[1] == "" {
				depth[m[2]]++
			} else {
				depth[m[2]]--
			}
			assert.False(t, depth[m[2]] < 0, "%s line %d closes <%s> that is not open", name, i+1, m[2])
		}
	}
	assert.EqualValues(t, "", fence, "%s ends inside a code fence %q", name, fence)
	for tag, d := range depth {
		assert.EqualValues(t, 0, d, "%s leaves %d <%s> open", name, d, tag)
	}
}

func TestMarkdownIsWellFormed(t *testing.T) {
	for _, tc := range runs {
		checkMarkdown(t, tc.name, Markdown(tc.run()))
		checkMarkdown(t, tc.name+" (short)", markdown(tc.run(), false))
	}
	// The golden files too, so a hand edit cannot slip through.
	files, _ := filepath.Glob(filepath.Join("testdata", "*.md"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		checkMarkdown(t, f, string(b))
	}
}

func TestMarkdownCheckerBites(t *testing.T) {
	// The checker must notice a broken table, an open fence and open tags.
	bad := []string{
		"| a | b |\n|---|---|\n| x | y | z |\n",
		"```\nunclosed\n",
		"<details><summary>x</summary>\n",
	}
	for _, md := range bad {
		rt := &recorder{}
		checkMarkdown(rt, "bad", md)
		assert.True(t, rt.failed, "checkMarkdown accepted broken Markdown %q", md)
	}
}
