package probes

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBranchesCatalog(t *testing.T) {
	bs := Branches()
	require.Len(t, bs, 6)
	groups := map[string][]string{}
	var all Core
	for i, b := range bs {
		assert.Equal(t, Core(1)<<i, b.Bit, "branch %d (%s) out of bit order", i, b.Name)
		assert.NotEmpty(t, b.Needs, b.Name)
		assert.NotEmpty(t, b.Kinds, b.Name)
		groups[b.Group] = append(groups[b.Group], b.Name)
		all |= b.Bit
	}
	assert.Equal(t, map[string][]string{
		"start_time": {"start_boottime", "real_start_time"},
		"task_state": {"__state", "state"},
		"output":     {"ringbuf", "perf"},
	}, groups)
	// The catalog is a copy.
	bs[0].Name = "changed"
	bs[4].Kinds[0] = KindSched
	assert.Equal(t, "start_boottime", Branches()[0].Name)
	assert.Equal(t, KindExec, Branches()[4].Kinds[0])
	assert.Equal(t, "start_boottime|real_start_time|__state|state|ringbuf|perf", all.String())
}

func TestCoreText(t *testing.T) {
	tests := []struct {
		c       Core
		str, js string
	}{
		{0, "none", `[]`},
		{CoreStartBoottime | CoreRingbuf, "start_boottime|ringbuf", `["start_boottime","ringbuf"]`},
		{CoreStateLong | CorePerfbuf | 1<<9, "state|perf|bit9", `["state","perf","bit9"]`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.str, tt.c.String())
		b, err := json.Marshal(tt.c)
		require.NoError(t, err)
		assert.JSONEq(t, tt.js, string(b))
		var back Core
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, tt.c, back)
	}
	var c Core
	require.NoError(t, json.Unmarshal([]byte(`48`), &c))
	assert.Equal(t, CoreRingbuf|CorePerfbuf, c)
	assert.Error(t, json.Unmarshal([]byte(`["nope"]`), &c))
	assert.True(t, (CoreRingbuf | CoreStateU32).Has(CoreStateU32))
	assert.False(t, CoreRingbuf.Has(CoreRingbuf|CorePerfbuf))
}

func TestParseKinds(t *testing.T) {
	ks, err := ParseKinds("open, exec,open")
	require.NoError(t, err)
	assert.Equal(t, []Kind{KindOpen, KindExec}, ks)
	ks, err = ParseKinds("")
	require.NoError(t, err)
	assert.Equal(t, AllKinds, ks)
	_, err = ParseKinds("exec,fork")
	assert.ErrorContains(t, err, `"fork"`)
	for _, k := range AllKinds {
		back, err := ParseKind(k.String())
		require.NoError(t, err)
		assert.Equal(t, k, back)
	}
	assert.Equal(t, "kind(9)", Kind(9).String())
}
