package cache

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// allLock names the cache-wide lock: held shared by every Lock, exclusively
// by Prune.
const allLock = "cache.lock"

// Lock takes the exclusive file lock named key, waiting until it is free or
// ctx is done. Locks exclude other processes and other goroutines alike, as
// each call opens its own lock file descriptor. While any is held Prune
// waits.
func (c *Cache) Lock(ctx context.Context, key string) (unlock func(), err error) {
	shared := flock.New(filepath.Join(c.dir, "locks", allLock))
	if ok, err := shared.TryRLockContext(ctx, 50*time.Millisecond); err != nil || !ok {
		return nil, fmt.Errorf("lock %s: cache lock: %w", key, orNotAcquired(err))
	}
	p := filepath.Join(c.dir, "locks", unsafeKey.ReplaceAllString(key, "_")+".lock")
	fl := flock.New(p)
	ok, err := fl.TryLockContext(ctx, 50*time.Millisecond)
	if err != nil || !ok {
		shared.Unlock()
		return nil, fmt.Errorf("lock %s: %w", key, orNotAcquired(err))
	}
	return func() { fl.Unlock(); shared.Unlock() }, nil
}

// lockAll takes the cache-wide lock exclusively.
func (c *Cache) lockAll(ctx context.Context) (unlock func(), err error) {
	fl := flock.New(filepath.Join(c.dir, "locks", allLock))
	if ok, err := fl.TryLockContext(ctx, 50*time.Millisecond); err != nil || !ok {
		return nil, fmt.Errorf("cache lock: %w", orNotAcquired(err))
	}
	return func() { fl.Unlock() }, nil
}

func orNotAcquired(err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("not acquired")
}
