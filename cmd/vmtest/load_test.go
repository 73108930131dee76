package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/corereport"
)

func TestParseLoadOutput(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec("../../corereport/testdata/targets.o")
	require.NoError(t, err)
	objs := []loadObject{{name: "targets.o", guest: "/corematrix/load/0-targets.o", spec: spec}}
	var all strings.Builder
	for name := range spec.Programs {
		fmt.Fprintf(&all, "%s{\"object\":\"/corematrix/load/0-targets.o\",\"program\":%q,\"loaded\":true}\n", loadLinePrefix, name)
	}
	for _, tc := range []struct {
		name, out string
		wantErr   string
	}{
		{"every program", "noise\n" + all.String() + "more noise\n", ""},
		{"missing programs", loadLinePrefix + `{"object":"/corematrix/load/0-targets.o","program":"fentry_traceable","loaded":true}` + "\n", "reported 1 of"},
		{"unknown program", loadLinePrefix + `{"object":"/corematrix/load/0-targets.o","program":"evil","loaded":true}` + "\n", "which the run lacks"},
		{"unknown object", loadLinePrefix + `{"object":"/etc/passwd","program":"fentry_traceable","loaded":true}` + "\n", "which the run lacks"},
		{"twice", all.String() + loadLinePrefix + `{"object":"/corematrix/load/0-targets.o","program":"fentry_traceable"}` + "\n", "twice"},
		{"not json", loadLinePrefix + "{\n", "guest result line"},
		{"line too long", loadLinePrefix + strings.Repeat("x", maxLoadLine+1) + "\n", "guest output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLoadOutput([]byte(tc.out), objs)
			if tc.wantErr == "" {
				require.NoError(t, err)
				assert.Len(t, got["/corematrix/load/0-targets.o"], len(spec.Programs))
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestAgreement(t *testing.T) {
	yes, no := true, false
	p := func(load, attach corereport.Verdict) corereport.Program {
		return corereport.Program{Load: load, Attach: attach}
	}
	for _, tc := range []struct {
		name string
		got  loadRow
		pred corereport.Program
		want string
	}{
		{"loads and attaches as predicted", loadRow{Loaded: true, Attached: &yes}, p(corereport.Loads, corereport.Loads), agreeRight},
		{"predicted load failure loaded", loadRow{Loaded: true, Attached: &yes}, p(corereport.Fails, corereport.Loads), agreeWrong},
		{"predicted load failure failed", loadRow{Error: "x"}, p(corereport.Fails, corereport.Loads), agreeRight},
		{"predicted attach failure attached", loadRow{Loaded: true, Attached: &yes}, p(corereport.Loads, corereport.Fails), agreeWrong},
		{"predicted attach failure failed", loadRow{Loaded: true, Attached: &no}, p(corereport.Loads, corereport.Fails), agreeRight},
		{"verifier refusal", loadRow{Error: "verifier: load program: permission denied"}, p(corereport.Loads, corereport.Loads), agreeVerifier},
		{"other load failure", loadRow{Error: "map create: invalid argument"}, p(corereport.Loads, corereport.Loads), agreeWrong},
		{"attach failed though predicted", loadRow{Loaded: true, Attached: &no}, p(corereport.Loads, corereport.Loads), agreeAttach},
		{"unknown load", loadRow{Error: "x"}, p(corereport.Unknown, corereport.Loads), agreeUnknown},
		{"unknown attach", loadRow{Loaded: true, Attached: &no}, p(corereport.Loads, corereport.Unknown), agreeUnknown},
		{"attach not tried", loadRow{Loaded: true, NotTried: "socket"}, p(corereport.Loads, corereport.Loads), agreeRight},
		{"loader refused", loadRow{Error: "resolve .kconfig", Stage: "loader"}, p(corereport.Loads, corereport.Loads), agreeLoader},
		{"loader refused as predicted", loadRow{Error: "fentry x not supported", Stage: "loader"}, p(corereport.Fails, corereport.Loads), agreeRight},
		{"needs input (map size)", loadRow{Error: "map create: invalid argument", Stage: "load"},
			corereport.Program{Load: corereport.Unknown, Reason: corereport.NeedsInput + "map x", Attach: corereport.Loads}, agreeInput},
		{"needs input (placeholder)", loadRow{Loaded: true, Attached: &no, Stage: "attach"},
			corereport.Program{Load: corereport.Loads, Attach: corereport.Unknown, AttachReason: "attach: " + corereport.NeedsInput + "dummy_x"}, agreeInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, agreement(true, true, tc.got, tc.pred))
		})
	}
	assert.Equal(t, agreeNoResult, agreement(false, true, loadRow{}, p(corereport.Loads, corereport.Loads)))
}
