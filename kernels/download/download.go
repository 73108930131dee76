package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"
)

// Deadlines bound each wait of a download.
type Deadlines struct {
	// Connect bounds the TCP connect and TLS handshake.
	Connect time.Duration
	// FirstByte bounds the wait for the response headers.
	FirstByte time.Duration
	// Idle bounds every pause between body bytes.
	Idle time.Duration
	// Total bounds one whole download, body included.
	Total time.Duration
}

// DefaultDeadlines suit a mirror serving kernel packages of ~100 MB.
var DefaultDeadlines = Deadlines{Connect: 15 * time.Second, FirstByte: 30 * time.Second, Idle: 30 * time.Second, Total: 15 * time.Minute}

// OrDefault returns d with zero fields taken from DefaultDeadlines.
func (d Deadlines) OrDefault() Deadlines {
	if d.Connect <= 0 {
		d.Connect = DefaultDeadlines.Connect
	}
	if d.FirstByte <= 0 {
		d.FirstByte = DefaultDeadlines.FirstByte
	}
	if d.Idle <= 0 {
		d.Idle = DefaultDeadlines.Idle
	}
	if d.Total <= 0 {
		d.Total = DefaultDeadlines.Total
	}
	return d
}

// ErrNoAnswer is matched (errors.Is) by every TimeoutError.
var ErrNoAnswer = errors.New("server did not answer in time")

// TimeoutError says which server did not answer and which limit it broke.
type TimeoutError struct {
	// Role names the server's kind ("mirror", "registry").
	Role string
	Host string
	// Wait is what was awaited: "connection", "answer", "more data", "end of download".
	Wait  string
	Limit time.Duration
	// Got is the number of body bytes received before the deadline.
	Got int64
}

func (e *TimeoutError) Error() string {
	switch e.Wait {
	case "connection":
		return fmt.Sprintf("%s %s did not answer within %s (connecting)", e.Role, e.Host, e.Limit)
	case "more data":
		return fmt.Sprintf("%s %s did not answer within %s (stalled after %d bytes)", e.Role, e.Host, e.Limit, e.Got)
	case "end of download":
		return fmt.Sprintf("%s %s did not finish the download within %s (%d bytes received)", e.Role, e.Host, e.Limit, e.Got)
	}
	return fmt.Sprintf("%s %s did not answer within %s", e.Role, e.Host, e.Limit)
}

// Is makes errors.Is(err, ErrNoAnswer) hold.
func (e *TimeoutError) Is(target error) bool { return target == ErrNoAnswer }

// Timeout reports true, as net.Error timeouts do.
func (e *TimeoutError) Timeout() bool { return true }

// Transport returns a RoundTripper enforcing d on every request: Connect
// through the dialer, FirstByte until the response headers arrive and Idle
// between body reads. role names the server in errors ("mirror").
func Transport(role string, d Deadlines) http.RoundTripper {
	d = d.OrDefault()
	dialer := &net.Dialer{Timeout: d.Connect, KeepAlive: 30 * time.Second}
	base := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   d.Connect,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &transport{base: base, role: role, d: d}
}

// NewClient returns an http.Client using Transport(role, d).
func NewClient(role string, d Deadlines) *http.Client {
	return &http.Client{Transport: Transport(role, d)}
}

type transport struct {
	base http.RoundTripper
	role string
	d    Deadlines
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(t.d.FirstByte, func() {
		cancel(&TimeoutError{Role: t.role, Host: req.URL.Host, Wait: "answer", Limit: t.d.FirstByte})
	})
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	timer.Stop()
	if err != nil {
		cause := context.Cause(ctx)
		cancel(nil)
		var te *TimeoutError
		if errors.As(cause, &te) {
			return nil, te
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && req.Context().Err() == nil {
			return nil, &TimeoutError{Role: t.role, Host: req.URL.Host, Wait: "connection", Limit: t.d.Connect}
		}
		return nil, err
	}
	b := &body{rc: resp.Body, ctx: ctx, cancel: cancel, limit: t.d.Idle}
	b.idle = time.AfterFunc(t.d.Idle, func() {
		cancel(&TimeoutError{Role: t.role, Host: req.URL.Host, Wait: "more data", Limit: t.d.Idle, Got: b.n.Load()})
	})
	resp.Body = b
	return resp, nil
}

// Transient reports whether err may go away on retry: a timeout, a dropped
// connection or a server error status (StatusError with a 5xx code or 429).
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == http.StatusTooManyRequests
	}
	var te *TimeoutError
	if errors.As(err, &te) {
		return te.Wait != "end of download"
	}
	// A refused connection is an answer (nothing listens there), not a
	// transient failure.
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// StatusError is a response whose status is not 200 OK.
type StatusError struct {
	URL    string
	Code   int
	Status string
}

func (e *StatusError) Error() string { return fmt.Sprintf("GET %s: %s", e.URL, e.Status) }

// Retry is the policy for transient failures (see Transient), the same for
// every download: mirrors and registries.
type Retry struct {
	// Attempts is how often a transiently failing download is tried; zero
	// means DefaultRetry's.
	Attempts int
	// Backoff is the wait before the first retry, multiplied by
	// BackoffFactor for each further one; zero means DefaultRetry's.
	Backoff time.Duration
}

// DefaultRetry is the retry policy when none is given: three tries, one
// second then two seconds apart.
var DefaultRetry = Retry{Attempts: 3, Backoff: time.Second}

// BackoffFactor multiplies the wait between tries after each retry.
const BackoffFactor = 2

// OrDefault returns r with its zero fields taken from DefaultRetry.
func (r Retry) OrDefault() Retry {
	if r.Attempts <= 0 {
		r.Attempts = DefaultRetry.Attempts
	}
	if r.Backoff <= 0 {
		r.Backoff = DefaultRetry.Backoff
	}
	return r
}

// Client downloads with deadlines and retries.
type Client struct {
	// HTTP sends the requests; nil means NewClient(Role, Deadlines).
	HTTP *http.Client
	// Role names the server in errors ("mirror").
	Role      string
	Deadlines Deadlines
	Retry     Retry
	// Waiting, when set, hears what the client waits for: a notice when a
	// request has had no answer for 5 s (then every 10 s, one for all the
	// requests waiting at once), and each retry with the failure that
	// caused it.
	Waiting func(notice string)

	waits waits
}

// Get fetches u and passes the body to read, retrying the whole exchange
// (read included, so read must start over each time it is called) after
// transient failures. Each attempt must finish within Deadlines.Total.
func (c *Client) Get(ctx context.Context, u string, read func(body io.Reader, size int64) error) error {
	d := c.Deadlines.OrDefault()
	hc := c.HTTP
	if hc == nil {
		hc = NewClient(c.Role, d)
	}
	rp := c.Retry.OrDefault()
	attempts, backoff := rp.Attempts, rp.Backoff
	var err error
	for i := range attempts {
		if i > 0 {
			c.retrying(err, backoff, i+1, attempts)
			select {
			case <-ctx.Done():
				return err
			case <-time.After(backoff):
			}
			backoff *= BackoffFactor
		}
		err = c.once(ctx, hc, d, u, read, c.startWait(u, i+1, attempts, d.FirstByte))
		if err == nil || !Transient(err) || ctx.Err() != nil {
			break
		}
	}
	if err != nil && attempts > 1 && Transient(err) {
		return fmt.Errorf("%w (tried %d times)", err, attempts)
	}
	return err
}

// once makes one attempt; answered is called once the response headers
// arrived or the request failed.
func (c *Client) once(ctx context.Context, hc *http.Client, d Deadlines, u string, read func(io.Reader, int64) error, answered func()) error {
	defer answered()
	host := u
	if pu, err := url.Parse(u); err == nil {
		host = pu.Host
	}
	var got countingReader
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	total := time.AfterFunc(d.Total, func() {
		cancel(&TimeoutError{Role: c.Role, Host: host, Wait: "end of download", Limit: d.Total, Got: got.n})
	})
	defer total.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	answered()
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL
		}
		return fmt.Errorf("GET %s: %w", u, causeOr(ctx, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &StatusError{URL: u, Code: resp.StatusCode, Status: resp.Status}
	}
	got.r = resp.Body
	if err := read(&got, resp.ContentLength); err != nil {
		return fmt.Errorf("GET %s: %w", u, causeOr(ctx, err))
	}
	return nil
}

// causeOr returns the TimeoutError that cancelled ctx, if one did, else err.
func causeOr(ctx context.Context, err error) error {
	var te *TimeoutError
	if errors.As(err, &te) {
		return err
	}
	if errors.As(context.Cause(ctx), &te) {
		return te
	}
	return err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
