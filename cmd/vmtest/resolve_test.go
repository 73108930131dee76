package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/corematrix/corematrix/kernels"
)

func TestParseKernelList(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "5.10,6.1,6.12", want: []string{"5.10", "6.1", "6.12"}},
		{in: " 6.1 , latest", want: []string{"6.1", "latest"}},
		{in: "6.1,6.1", wantErr: `kernel "6.1" listed twice`},
		{in: "6.1,bogus!", wantErr: "bogus!"},
		{in: "", wantErr: "empty kernel list"},
	} {
		got, err := parseKernelList(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseKernelList(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseKernelList(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := parseKernelList("6.1,bogus!"); !errors.Is(err, kernels.ErrBadName) {
		t.Errorf("bad token error %v does not match kernels.ErrBadName", err)
	}
}
