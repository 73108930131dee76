package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernel"
)

func TestParseKernels(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		also    []string
		want    []string
		wantErr string
		badName bool // the error wraps kernel.ErrBadName
	}{
		{name: "comma list", args: []string{"5.10,6.1,6.12"}, want: []string{"5.10", "6.1", "6.12"}},
		{name: "blanks", args: []string{" 6.1 , latest"}, want: []string{"6.1", "latest"}},
		{name: "several arguments", args: []string{"6.1", "5.10,latest"}, want: []string{"6.1", "5.10", "latest"}},
		{name: "extra name", args: []string{"host,6.1"}, also: []string{"host"}, want: []string{"host", "6.1"}},
		{name: "extra name not allowed", args: []string{"host,6.1"}, wantErr: `kernel "host"`, badName: true},
		{name: "duplicate", args: []string{"6.1,6.1"}, wantErr: `kernel "6.1" listed twice`},
		{name: "duplicate across arguments", args: []string{"6.1", "6.1"}, wantErr: `kernel "6.1" listed twice`},
		{name: "duplicate extra name", args: []string{"host,host"}, also: []string{"host"}, wantErr: `kernel "host" listed twice`},
		{name: "architectures", args: []string{"6.1,6.1/arm64"}, want: []string{"6.1", "6.1/arm64"}},
		{name: "the host's architecture named twice", args: []string{"6.1,6.1/" + string(kernel.HostArch())}, wantErr: `listed twice (also as "6.1")`},
		{name: "bad architecture", args: []string{"6.1/arm"}, wantErr: `architecture "arm"`, badName: true},
		{name: "bad token", args: []string{"6.1,bogus!"}, wantErr: "bogus!", badName: true},
		{name: "empty name between commas", args: []string{"6.1,,5.10"}, wantErr: `empty name in kernel list "6.1,,5.10"`, badName: true},
		{name: "trailing comma", args: []string{"6.1,"}, wantErr: "empty name", badName: true},
		{name: "empty", args: []string{""}, wantErr: "no kernel given", badName: true},
		{name: "no arguments", wantErr: "no kernel given", badName: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseKernels(tc.args, tc.also...)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				if tc.badName {
					assert.ErrorIs(t, err, kernel.ErrBadName)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, kernelNames(got))
		})
	}
}

func TestKernelFlagForms(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{name: "list", args: []string{"--kernels", "5.10,6.1"}, want: []string{"5.10", "6.1"}},
		{name: "single", args: []string{"--kernel", "6.1"}, want: []string{"6.1"}},
		{name: "single form refuses a list", args: []string{"--kernel", "6.1,5.10"}, wantErr: "--kernel \"6.1,5.10\": takes one kernel; for several use --kernels 6.1,5.10"},
		{name: "both forms", args: []string{"--kernel", "6.1", "--kernels", "5.10"}, wantErr: "--kernels given after --kernel"},
		{name: "empty", args: []string{"--kernels", ""}, wantErr: "no kernel given"},
		{name: "not given", args: nil, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFlags("vmtest x", "vmtest x", "")
			kl := addKernelFlag(fs, "kernel", "kernels")
			_, err := fs.parse(tc.args, true)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				assert.Equal(t, exitUsage, codeOf(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, kl.names())
		})
	}
}

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		name         string
		args         []string
		interspersed bool
		pos          []string
		format       format
	}{
		{"flags first", []string{"--format", "json", "a", "b"}, true, []string{"a", "b"}, formatJSON},
		{"flags last", []string{"a", "b", "--format", "md"}, true, []string{"a", "b"}, formatMarkdown},
		{"flags between", []string{"a", "--format=table", "b"}, true, []string{"a", "b"}, formatText},
		{"after -- all positional", []string{"a", "--", "--format", "json"}, true, []string{"a", "--format", "json"}, formatText},
		{"payload ends the flags", []string{"--format", "json", "bin", "--format", "md"}, false, []string{"bin", "--format", "md"}, formatJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFlags("vmtest x", "vmtest x", "")
			f := addFormatFlag(fs)
			pos, err := fs.parse(tc.args, tc.interspersed)
			require.NoError(t, err)
			assert.Equal(t, tc.pos, pos)
			assert.Equal(t, tc.format, *f)
		})
	}
}
