package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/corematrix/corematrix/probes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		check   func(*testing.T, *config)
	}{
		{nil, "", func(t *testing.T, c *config) {
			assert.Equal(t, []probes.Kind{probes.KindExec, probes.KindExit, probes.KindOpen, probes.KindConnect}, c.kinds)
			assert.Empty(t, c.pids)
			assert.Equal(t, "json", c.format)
		}},
		{[]string{"-events", "sched,exec", "-pid", "12, 34", "-perfbuf", "-format", "table"}, "", func(t *testing.T, c *config) {
			assert.Equal(t, []probes.Kind{probes.KindSched, probes.KindExec}, c.kinds)
			assert.Equal(t, []uint32{12, 34}, c.pids)
			assert.True(t, c.perf)
			assert.Equal(t, "table", c.format)
		}},
		{[]string{"-events", "all"}, "", func(t *testing.T, c *config) { assert.Equal(t, probes.AllKinds, c.kinds) }},
		{[]string{"-events", "fork"}, `unknown event kind "fork"`, nil},
		{[]string{"-pid", "x"}, `bad -pid "x"`, nil},
		{[]string{"-pid", "0"}, `bad -pid "0"`, nil},
		{[]string{"-format", "xml"}, `bad -format "xml"`, nil},
		{[]string{"extra"}, "unexpected arguments: extra", nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			c, err := parseFlags(tt.args, &stderr)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestRunUsage(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, exitUsage, run(context.Background(), []string{"-events", "nope"}, &out, &errb))
	assert.Contains(t, errb.String(), "unknown event kind")
	assert.Equal(t, exitOK, run(context.Background(), []string{"-h"}, &out, &errb))
}

func TestPrinter(t *testing.T) {
	var c probes.Comm
	copy(c[:], "curl")
	ev := &probes.Connect{
		Header: probes.Header{Kind: probes.KindConnect, Core: probes.CoreRingbuf, PID: 7, TGID: 7, Comm: c},
		Family: probes.AFInet, Src: netip.MustParseAddrPort("10.0.0.1:5000"), Dst: netip.MustParseAddrPort("10.0.0.2:80"),
	}
	var b bytes.Buffer
	require.NoError(t, newPrinter("json", &b).print(ev))
	assert.JSONEq(t, `{"kind":"connect","core":["ringbuf"],"ktime_ns":0,"pid":7,"tgid":7,"comm":"curl",
		"family":2,"ret":0,"src":"10.0.0.1:5000","dst":"10.0.0.2:80"}`, b.String())

	b.Reset()
	p := newPrinter("table", &b)
	require.NoError(t, p.print(ev))
	require.NoError(t, p.print(ev))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 3, "header + 2 rows: %q", b.String())
	assert.True(t, strings.HasPrefix(lines[0], "EVENT"))
	assert.Contains(t, lines[1], "10.0.0.1:5000 -> 10.0.0.2:80 ret=0 [ringbuf]")
}

func TestLoadBTF(t *testing.T) {
	_, err := loadBTF("/nonexistent/vmlinux")
	assert.ErrorContains(t, err, "read BTF")

	var out, errb bytes.Buffer
	assert.Equal(t, exitFail, run(context.Background(), []string{"-btf", "/nonexistent/vmlinux"}, &out, &errb))
	assert.Contains(t, errb.String(), "read BTF")

	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skip("no /sys/kernel/btf/vmlinux to read raw BTF from")
	}
	spec, err := loadBTF("/sys/kernel/btf/vmlinux")
	require.NoError(t, err)
	_, err = spec.AnyTypeByName("task_struct")
	assert.NoError(t, err)
}

func TestExplain(t *testing.T) {
	assert.Contains(t, explain(fmt.Errorf("load: %w", probes.ErrNoBTF)), "pass -btf")
	assert.Contains(t, explain(fmt.Errorf("x: %w", probes.ErrPrivileges)), "CAP_BPF")
	assert.Equal(t, "plain", explain(errors.New("plain")))
}

// Every kind of the probes registry has its own DETAILS text: a new event
// kind without a case in details fails here, not silently in the table.
func TestDetailsCoverEveryKind(t *testing.T) {
	for _, k := range probes.AllKinds {
		r := probes.Record{Kind: k}
		ev := r.Event()
		require.NotNil(t, ev, "kind %s", k)
		_, ok := details(ev)
		assert.True(t, ok, "cmd/tracer/print.go details has no case for %T (kind %s)", ev, k)
	}
	assert.Contains(t, kindNames(), probes.AllKinds[len(probes.AllKinds)-1].String())
}
