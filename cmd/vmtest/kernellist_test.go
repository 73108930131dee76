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
		{name: "the host's architecture named twice", args: []string{"6.1," + "6.1/" + string(kernel.HostArch())}, wantErr: `listed twice (also as "6.1")`},
		{name: "bad architecture", args: []string{"6.1/arm"}, wantErr: `architecture "arm"`, badName: true},
		{name: "bad token", args: []string{"6.1,bogus!"}, wantErr: "bogus!", badName: true},
		{name: "empty", args: []string{""}, wantErr: "empty kernel list", badName: true},
		{name: "no arguments", wantErr: "empty kernel list", badName: true},
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
