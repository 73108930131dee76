package kallsyms_test

import (
	"bytes"
	"debug/elf"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels/bzimage"
	"github.com/corematrix/corematrix/kernels/kallsyms"
	"github.com/corematrix/corematrix/kernels/kerneltest"
)

// TestParseRealImages reads kallsyms and __mcount_loc out of the images of
// the default matrix, one per table layout (5.10: offsets before the names;
// 6.1: kallsyms_seqs_of_names between markers and tokens; 6.12: offsets
// after the token index; latest: place-relative offsets), and checks what
// every x86-64 kernel has.
func TestParseRealImages(t *testing.T) {
	for _, name := range []string{"5.10", "6.1", "6.12", "latest"} {
		t.Run(name, func(t *testing.T) {
			img := kerneltest.Image(t, name)
			vmlinux, err := bzimage.Vmlinux(img.Path)
			require.NoError(t, err)
			tab, err := kallsyms.Parse(vmlinux)
			require.NoError(t, err)
			assert.Greater(t, len(tab.Symbols), 50000, "symbols")

			f, err := elf.NewFile(bytes.NewReader(vmlinux))
			require.NoError(t, err)
			byName := map[string]kallsyms.Symbol{}
			for _, s := range tab.Symbols {
				if _, dup := byName[s.Name]; !dup {
					byName[s.Name] = s
				}
			}
			assert.Equal(t, f.Section(".text").Addr, byName["_text"].Addr, "_text")
			for _, fn := range []string{"vfs_read", "do_exit", "schedule"} {
				assert.Equal(t, byte('T'), byName[fn].Type, "type of %s", fn)
			}

			fs, err := kallsyms.FuncsOf(vmlinux, tab)
			require.NoError(t, err)
			require.NotNil(t, fs.Traceable, "no __mcount_loc found")
			assert.Greater(t, len(fs.Traceable), 25000, "traceable functions")
			for _, fn := range []string{"vfs_read", "do_exit", "tcp_v4_connect"} {
				assert.True(t, fs.Traceable[fn], "%s traceable", fn)
			}
			// ftrace never traces itself or the code that runs before it is up.
			for _, fn := range []string{"ftrace_stub", "start_kernel"} {
				assert.False(t, fs.Traceable[fn], "%s traceable", fn)
			}
		})
	}
}

func TestFuncsText(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   kallsyms.Funcs
	}{
		{"traceable and not", kallsyms.Funcs{Count: map[string]int{"a": 1, "b": 2}, Traceable: map[string]bool{"a": true}}},
		{"no mcount", kallsyms.Funcs{Count: map[string]int{"a": 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := tc.fs.MarshalText()
			require.NoError(t, err)
			var got kallsyms.Funcs
			require.NoError(t, got.UnmarshalText(raw))
			assert.Equal(t, tc.fs.Count, got.Count)
			if tc.fs.Traceable == nil {
				assert.Nil(t, got.Traceable, "text %q", raw)
			} else {
				assert.Equal(t, tc.fs.Traceable, got.Traceable)
			}
		})
	}
	for _, bad := range []string{"X foo\n", "T\n", "T \n", "foo\n"} {
		var fs kallsyms.Funcs
		assert.Error(t, fs.UnmarshalText([]byte(bad)), "%q", bad)
	}
}

func TestParseNotKernel(t *testing.T) {
	_, err := kallsyms.Parse([]byte("not an elf"))
	assert.Error(t, err)
}
