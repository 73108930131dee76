package cache

import (
	"os"
	"path/filepath"
	"time"
)

// PruneStats says what Prune removed.
type PruneStats struct {
	Files int
	Bytes int64
}

// Prune removes blobs not used for olderThan (blobs are marked used each time
// a kernel resolves to them) and temporary files left by interrupted
// downloads. Records are small and kept, so a pruned blob is simply fetched
// again. olderThan <= 0 empties the cache, records included.
func (c *Cache) Prune(olderThan time.Duration) (PruneStats, error) {
	var st PruneStats
	now := time.Now()
	cutoff := now.Add(-olderThan)
	tmpCutoff := now.Add(-time.Hour)
	recordCutoff := time.Time{}
	if olderThan <= 0 {
		cutoff, tmpCutoff, recordCutoff = now.Add(time.Hour), now.Add(time.Hour), now.Add(time.Hour)
	}
	dirs := []struct {
		dir    string
		cutoff time.Time
	}{
		{filepath.Join(c.dir, "blobs", "sha256"), cutoff},
		{filepath.Join(c.dir, "records"), recordCutoff},
		{filepath.Join(c.dir, "tmp"), tmpCutoff},
	}
	for _, d := range dirs {
		ents, err := os.ReadDir(d.dir)
		if err != nil {
			return st, err
		}
		for _, e := range ents {
			info, err := e.Info()
			if err != nil || info.IsDir() || !info.ModTime().Before(d.cutoff) {
				continue
			}
			if err := os.Remove(filepath.Join(d.dir, e.Name())); err == nil {
				st.Files++
				st.Bytes += info.Size()
			}
		}
	}
	return st, nil
}

// Usage returns the number and total size of cached blobs.
func (c *Cache) Usage() (PruneStats, error) {
	var st PruneStats
	ents, err := os.ReadDir(filepath.Join(c.dir, "blobs", "sha256"))
	if err != nil {
		return st, err
	}
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			st.Files++
			st.Bytes += info.Size()
		}
	}
	return st, nil
}
