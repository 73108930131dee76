package download

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/kernels/internal/fakearchive"
)

var fast = Deadlines{Connect: time.Second, FirstByte: 300 * time.Millisecond, Idle: 300 * time.Millisecond, Total: 2 * time.Second}

func TestSilentMirrorTimesOut(t *testing.T) {
	u := "http://" + fakearchive.Silent(t) + "/dists/bookworm/InRelease"
	c := &Client{Role: "mirror", Deadlines: fast, Retry: Retry{Attempts: 2, Backoff: 10 * time.Millisecond}}
	start := time.Now()
	err := c.Get(context.Background(), u, func(r io.Reader, _ int64) error { _, err := io.ReadAll(r); return err })
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrNoAnswer)
	assert.Contains(t, err.Error(), "did not answer within 300ms")
	assert.Contains(t, err.Error(), "tried 2 times")
	assert.Less(t, time.Since(start), 20*time.Second, "far less than DefaultDeadlines would wait")
	t.Log(err)
}

// A server that sends headers and then one byte every 100ms never trips the
// idle deadline; the total deadline ends it.
func TestTricklingMirrorHitsTotalDeadline(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
		for range 100 {
			if _, err := w.Write([]byte{'x'}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}))
	defer srv.Close()
	d := fast
	d.Total = 700 * time.Millisecond
	c := &Client{Role: "mirror", Deadlines: d, Retry: Retry{Attempts: 3, Backoff: 10 * time.Millisecond}}
	err := c.Get(context.Background(), srv.URL+"/pool/x.deb", func(r io.Reader, _ int64) error { _, err := io.ReadAll(r); return err })
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrNoAnswer)
	assert.Contains(t, err.Error(), "did not finish the download within 700ms")
	assert.EqualValues(t, 1, hits.Load(), "a total-deadline failure is not retried")
	t.Log(err)
}

func TestStalledBodyHitsIdleDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("abc"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := &Client{Role: "mirror", Deadlines: fast, Retry: Retry{Attempts: 1}}
	err := c.Get(context.Background(), srv.URL+"/x", func(r io.Reader, _ int64) error { _, err := io.ReadAll(r); return err })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not answer within 300ms (stalled after 3 bytes)")
}

func TestRetriesServerErrorsWithBackoff(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	c := &Client{Role: "mirror", Deadlines: fast, Retry: Retry{Attempts: 3, Backoff: 20 * time.Millisecond}}
	var got []byte
	start := time.Now()
	err := c.Get(context.Background(), srv.URL, func(r io.Reader, _ int64) (err error) { got, err = io.ReadAll(r); return err })
	require.NoError(t, err)
	assert.Equal(t, "ok", string(got))
	assert.EqualValues(t, 3, hits.Load())
	assert.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond, "backoff of 20ms then 40ms")
}

func TestNotFoundIsNotRetried(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	c := &Client{Role: "mirror", Deadlines: fast, Retry: Retry{Attempts: 3, Backoff: time.Millisecond}}
	err := c.Get(context.Background(), srv.URL, func(io.Reader, int64) error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "404 Not Found")
	assert.EqualValues(t, 1, hits.Load())
}

func TestRefusedConnectionIsNotRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := &Client{Role: "mirror", Deadlines: fast, Retry: Retry{Attempts: 3, Backoff: 30 * time.Second}}
	start := time.Now()
	err = c.Get(context.Background(), "http://"+addr+"/x", func(io.Reader, int64) error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
	assert.NotContains(t, err.Error(), "tried")
	// One retry would wait 30 s first.
	assert.Less(t, time.Since(start), 20*time.Second, "no backoff for a refused connection")
}
