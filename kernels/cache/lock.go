package cache

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// Lock takes the exclusive file lock named key, waiting until it is free or
// ctx is done. Locks exclude other processes and other goroutines alike, as
// each call opens its own lock file descriptor.
func (c *Cache) Lock(ctx context.Context, key string) (unlock func(), err error) {
	p := filepath.Join(c.dir, "locks", unsafeKey.ReplaceAllString(key, "_")+".lock")
	fl := flock.New(p)
	ok, err := fl.TryLockContext(ctx, 50*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	if !ok {
		return nil, fmt.Errorf("lock %s: not acquired", key)
	}
	return func() { fl.Unlock() }, nil
}
