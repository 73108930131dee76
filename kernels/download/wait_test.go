package download

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels/internal/fakearchive"
)

// Requests waiting side by side on a silent server are announced together,
// naming what is waited for and for how long, and each retry says why.
func TestSilentServerWaitIsAnnounced(t *testing.T) {
	noticeAfter, noticeEvery = 100*time.Millisecond, 200*time.Millisecond
	t.Cleanup(func() { noticeAfter, noticeEvery = 5*time.Second, 10*time.Second })
	addr := fakearchive.Silent(t)
	var mu sync.Mutex
	var notices []string
	d := fast
	d.FirstByte = 500 * time.Millisecond
	c := &Client{Role: "mirror", Deadlines: d, Retry: Retry{Attempts: 2, Backoff: 10 * time.Millisecond}, Waiting: func(n string) {
		mu.Lock()
		notices = append(notices, n)
		mu.Unlock()
	}}
	var wg sync.WaitGroup
	for _, suite := range []string{"bookworm", "trixie", "sid"} {
		wg.Go(func() {
			err := c.Get(context.Background(), "http://"+addr+"/dists/"+suite+"/InRelease", func(r io.Reader, _ int64) error { return nil })
			assert.ErrorIs(t, err, ErrNoAnswer)
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(notices, "\n")
	require.Regexp(t, `waiting for mirror 127.0.0.1:\d+ \(/dists/\w+/InRelease and 2 more\): no answer for \d+m?s; each try gives up after 500ms \(try 1 of 2\)`, all)
	require.Contains(t, all, "mirror "+addr+" did not answer within 500ms; trying again in 10ms (try 2 of 2)")
	assert.Equal(t, 1, strings.Count(all, "trying again"), "the three requests' retry is said once: %q", notices)
	waits := strings.Count(all, "waiting for mirror")
	// Two tries of 500ms, a notice at most every 200ms: a handful, not one
	// per request and tick.
	assert.LessOrEqual(t, waits, 6, "notices: %q", notices)
	assert.GreaterOrEqual(t, waits, 2, "notices: %q", notices)
}
