package download

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"
)

// body is a response body whose reads re-arm an idle timer; when the timer
// fires the request is cancelled and reads fail with its TimeoutError.
type body struct {
	rc     io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	idle   *time.Timer
	limit  time.Duration
	n      atomic.Int64
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	if n > 0 && b.limit > 0 {
		b.idle.Reset(b.limit)
	}
	if err != nil && err != io.EOF {
		var te *TimeoutError
		if errors.As(context.Cause(b.ctx), &te) {
			return n, te
		}
	}
	return n, err
}

func (b *body) Close() error {
	b.idle.Stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
