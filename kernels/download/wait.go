package download

import (
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"
)

// Wait notices: while requests of a Client wait for their server, it says
// so through Client.Waiting, what it waits for and for how long, at most
// once per noticeEvery, however many requests wait side by side (the suites
// of one mirror are fetched at once).

// noticeAfter is how long a request waits for its answer before the first
// notice; noticeEvery spaces the following ones. Tests shorten them.
var (
	noticeAfter = 5 * time.Second
	noticeEvery = 10 * time.Second
)

// waits tracks the requests of a Client that have not yet been answered.
type waits struct {
	mu      sync.Mutex
	pending map[*waiting]bool
	last    time.Time // of the last notice
	// retry and retryAt are the last retry notice and its time.
	retry   string
	retryAt time.Time
}

type waiting struct {
	url     string
	since   time.Time
	attempt int
}

// start registers a request to u (attempt n of of) and returns the function
// to call once it is answered or failed. While it waits, notices go to
// c.Waiting.
func (c *Client) startWait(u string, attempt, of int, limit time.Duration) (answered func()) {
	if c.Waiting == nil {
		return func() {}
	}
	w := &waiting{url: u, since: time.Now(), attempt: attempt}
	c.waits.mu.Lock()
	if c.waits.pending == nil {
		c.waits.pending = map[*waiting]bool{}
	}
	c.waits.pending[w] = true
	c.waits.mu.Unlock()
	stop := make(chan struct{})
	go func() {
		t := time.NewTimer(noticeAfter)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				c.notice(of, limit)
				t.Reset(noticeEvery)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			c.waits.mu.Lock()
			delete(c.waits.pending, w)
			c.waits.mu.Unlock()
		})
	}
}

// notice says which request has waited longest, for how long, and how many
// others wait with it, unless a notice went out less than noticeEvery ago.
func (c *Client) notice(of int, limit time.Duration) {
	c.waits.mu.Lock()
	now := time.Now()
	if now.Sub(c.waits.last) < noticeEvery*9/10 || len(c.waits.pending) == 0 {
		c.waits.mu.Unlock()
		return
	}
	var oldest *waiting
	for w := range c.waits.pending {
		if oldest == nil || w.since.Before(oldest.since) {
			oldest = w
		}
	}
	others := len(c.waits.pending) - 1
	c.waits.last = now
	c.waits.mu.Unlock()
	host, path := oldest.url, ""
	if pu, err := url.Parse(oldest.url); err == nil {
		host, path = pu.Host, pu.Path
	}
	more := ""
	if others > 0 {
		more = fmt.Sprintf(" and %d more", others)
	}
	c.Waiting(fmt.Sprintf("waiting for %s %s (%s%s): no answer for %s; each try gives up after %s (try %d of %d)",
		c.Role, host, path, more, now.Sub(oldest.since).Round(time.Second), limit, oldest.attempt, of))
}

// retrying says that a request is tried again after err, unless the same
// was said less than noticeEvery ago (requests to one server side by side
// fail alike: a silent mirror is said once per round, not once per suite).
func (c *Client) retrying(err error, backoff time.Duration, attempt, of int) {
	if c.Waiting == nil {
		return
	}
	why := err.Error()
	var te *TimeoutError
	if errors.As(err, &te) {
		why = te.Error() // without the URL: the same for every request
	}
	msg := fmt.Sprintf("%s; trying again in %s (try %d of %d)", why, backoff, attempt, of)
	c.waits.mu.Lock()
	now := time.Now()
	if msg == c.waits.retry && now.Sub(c.waits.retryAt) < noticeEvery {
		c.waits.mu.Unlock()
		return
	}
	c.waits.retry, c.waits.retryAt = msg, now
	c.waits.mu.Unlock()
	c.Waiting(msg)
}
