package kallsyms_test

import (
	"bytes"
	"debug/elf"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels/armimage"
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

// TestParseARM64Images reads kallsyms, __mcount_loc and sys_call_table
// out of the arm64 Images of the default matrix: 5.10 and 6.1 keep their
// pointers in RELA addends (zero in the image) and have text symbols only,
// so __mcount_loc and sys_call_table are found by content; 6.12 and latest
// keep pointers in place (RELR) and name both tables. The link address
// must come out as the kernel's KIMAGE_VADDR of that line.
func TestParseARM64Images(t *testing.T) {
	for _, tc := range []struct {
		name string
		base uint64
	}{
		{"5.10/arm64", 0xffff800010000000},
		{"6.1/arm64", 0xffff800008000000},
		{"6.12/arm64", 0xffff800080000000},
		{"latest/arm64", 0xffff800080000000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := armimage.Load(kerneltest.Image(t, tc.name).Path)
			require.NoError(t, err)
			im, err := kallsyms.NewARM64Image(img)
			require.NoError(t, err)
			assert.Equal(t, tc.base, im.Base(), "link address")
			assert.Greater(t, len(im.Table().Symbols), 30000, "symbols")
			byName := map[string]kallsyms.Symbol{}
			for _, s := range im.Table().Symbols {
				if _, dup := byName[s.Name]; !dup {
					byName[s.Name] = s
				}
			}
			for _, fn := range []string{"vfs_read", "do_exit", "schedule"} {
				assert.Equal(t, byte('T'), byName[fn].Type, "type of %s", fn)
			}
			fs := im.Funcs()
			require.NotNil(t, fs.Traceable, "no __mcount_loc found")
			assert.Greater(t, len(fs.Traceable), 25000, "traceable functions")
			for _, fn := range []string{"vfs_read", "do_exit", "tcp_v4_connect"} {
				assert.True(t, fs.Traceable[fn], "%s traceable", fn)
			}
			for _, fn := range []string{"ftrace_stub", "start_kernel"} {
				assert.False(t, fs.Traceable[fn], "%s traceable", fn)
			}
			require.NotNil(t, fs.Syscalls, "no sys_call_table found")
			for _, fn := range []string{"__arm64_sys_read", "__arm64_sys_openat", "__arm64_sys_execve"} {
				assert.True(t, fs.Syscalls[fn], "%s in sys_call_table", fn)
			}
			// arm64 has no open(2) (asm-generic) and its compat table is
			// not the native one.
			assert.False(t, fs.Syscalls["__arm64_sys_open"], "__arm64_sys_open in sys_call_table")
			for n := range fs.Syscalls {
				assert.NotContains(t, n, "compat", "native table holds %s", n)
			}
		})
	}
}

func TestParseARM64NotImage(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("not an image"), make([]byte, 4096)} {
		_, err := kallsyms.NewARM64Image(in)
		assert.ErrorIs(t, err, kallsyms.ErrNotFound)
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
