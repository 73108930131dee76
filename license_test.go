package corematrix

// The licensing of the BPF code, as NOTICE states it: every hand-written BPF C
// source and header carries an SPDX-License-Identifier line, and every
// committed BPF object tells the kernel the license string that corresponds to
// the SPDX expression of the source it is built from.

import (
	"bytes"
	"debug/elf"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kernelLicense maps the SPDX expression of a hand-written BPF C file to the
// string its objects must put in their "license" ELF section. "Dual BSD/GPL"
// is the kernel's name for (GPL-2.0-only OR BSD-2-Clause) (see
// include/linux/license.h); the kernel treats it as GPL-compatible, so the
// GPL-only helpers stay available. An SPDX expression not listed here is an
// error: add its kernel string when a source needs another license.
var kernelLicense = map[string]string{
	"(GPL-2.0-only OR BSD-2-Clause)": "Dual BSD/GPL",
}

// vendoredDir holds the libbpf headers, which keep libbpf's own license
// headers; NOTICE lists them.
const vendoredDir = "probes/bpf/include"

// objectSources names the C source each committed BPF object is compiled
// from (harness/broken/gen.sh builds the broken objects from a patched copy
// of the tracer).
var objectSources = map[string]string{
	"probes/tracer_x86_bpfel.o":                   "probes/bpf/tracer.c",
	"harness/broken/broken_start.o":               "probes/bpf/tracer.c",
	"harness/broken/broken_state.o":               "probes/bpf/tracer.c",
	"harness/broken/broken_task_btf.o":            "probes/bpf/tracer.c",
	"harness/broken/broken_loop.o":                "probes/bpf/tracer.c",
	"harness/broken/broken_kern_ctx.o":            "probes/bpf/tracer.c",
	"harness/broken/broken_kprobe_target.o":       "probes/bpf/tracer.c",
	"harness/broken/broken_fentry.o":              "probes/bpf/tracer.c",
	"probes/tracer_arm64_bpfel.o":                 "probes/bpf/tracer.c",
	"harness/broken/broken_start_arm64.o":         "probes/bpf/tracer.c",
	"harness/broken/broken_state_arm64.o":         "probes/bpf/tracer.c",
	"harness/broken/broken_task_btf_arm64.o":      "probes/bpf/tracer.c",
	"harness/broken/broken_loop_arm64.o":          "probes/bpf/tracer.c",
	"harness/broken/broken_kern_ctx_arm64.o":      "probes/bpf/tracer.c",
	"harness/broken/broken_kprobe_target_arm64.o": "probes/bpf/tracer.c",
	"harness/broken/broken_fentry_arm64.o":        "probes/bpf/tracer.c",
	"corereport/testdata/core.o":                  "corereport/testdata/core.c",
	"corereport/testdata/targets.o":               "corereport/testdata/targets.c",
	"argread/testdata/args.o":                     "argread/testdata/args.c",
	"argread/testdata/args_arm64.o":               "argread/testdata/args.c",
	"argread/testdata/flows.o":                    "argread/testdata/flows.c",
}

// spdxLine matches the kernel's SPDX convention on a file's first line:
// "// SPDX-License-Identifier: X" or "/* SPDX-License-Identifier: X */".
var spdxLine = regexp.MustCompile(`^(?://|/\*)\s*SPDX-License-Identifier:\s*(.*?)\s*(?:\*/)?\s*$`)

// spdx returns the SPDX expression on the first line of the file at path, or
// "" when that line has none.
func spdx(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	first, _, _ := strings.Cut(string(data), "\n")
	m := spdxLine.FindStringSubmatch(first)
	if m == nil {
		return ""
	}
	return m[1]
}

// objectLicense returns the NUL-terminated string in the "license" section of
// the ELF object at path.
func objectLicense(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sec := f.Section("license")
	require.NotNil(t, sec, "%s has no license section", path)
	data, err := sec.Data()
	require.NoError(t, err)
	s, _, _ := bytes.Cut(data, []byte{0})
	return string(s)
}

// repoFiles returns the slash-separated paths, relative to the repository
// root (the directory of this test), of the files whose extension is one of
// exts, outside vendoredDir and hidden directories.
func repoFiles(t *testing.T, exts ...string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(path)
		if d.IsDir() {
			if rel == vendoredDir || (rel != "." && strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		for _, ext := range exts {
			if filepath.Ext(rel) == ext {
				out = append(out, rel)
			}
		}
		return nil
	})
	require.NoError(t, err)
	sort.Strings(out)
	return out
}

func TestBPFSourcesHaveSPDX(t *testing.T) {
	files := repoFiles(t, ".c", ".h")
	for _, src := range objectSources {
		require.Contains(t, files, src, "the walk must find every object's source")
	}
	for _, f := range files {
		id := spdx(t, f)
		if !assert.NotEmpty(t, id, "%s: first line must be an SPDX-License-Identifier", f) {
			continue
		}
		assert.Contains(t, kernelLicense, id, "%s: SPDX expression %q has no kernel license string in kernelLicense", f, id)
	}
}

func TestBPFObjectLicenseMatchesSource(t *testing.T) {
	for _, obj := range repoFiles(t, ".o") {
		assert.Contains(t, objectSources, obj, "%s: committed BPF object missing from objectSources", obj)
	}
	for obj, src := range objectSources {
		id := spdx(t, src)
		want, ok := kernelLicense[id]
		if !assert.True(t, ok, "%s: SPDX expression %q has no kernel license string", src, id) {
			continue
		}
		assert.Equal(t, want, objectLicense(t, obj), "%s declares a license other than its source %s (%s)", obj, src, id)
	}
}

func TestNoticeListsVendoredFiles(t *testing.T) {
	notice, err := os.ReadFile("NOTICE")
	require.NoError(t, err)
	var vendored []string
	require.NoError(t, filepath.WalkDir(vendoredDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".h") {
			vendored = append(vendored, filepath.ToSlash(path))
		}
		return err
	}))
	require.NotEmpty(t, vendored)
	for _, f := range vendored {
		assert.Contains(t, string(notice), f+"\n", "NOTICE must list vendored %s", f)
	}
}
