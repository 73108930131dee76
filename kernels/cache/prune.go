package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// PruneStats says what Prune removed.
type PruneStats struct {
	Files int
	Bytes int64
}

// recordName matches the file names recordPath gives records.
var recordName = regexp.MustCompile(`^[A-Za-z0-9._+~=-]*\.[0-9a-f]{12}\.json$`)

// tempPrefixes start the names of the cache's temporary files.
var tempPrefixes = []string{"blob-", "record-", "tmp-"}

// owned reports whether a file named name in the cache subdirectory sub is
// one the cache creates there.
func owned(sub, name string) bool {
	switch sub {
	case "blobs/sha256":
		return validSum(name)
	case "records":
		return recordName.MatchString(name)
	case "btf":
		sum, ok := strings.CutSuffix(name, ".btf")
		return ok && validSum(sum)
	case "tmp":
		for _, p := range tempPrefixes {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
	}
	return false
}

// Prune removes blobs not used for olderThan (blobs are marked used each time
// a kernel resolves to them) and temporary files left by interrupted
// downloads, and BTF extracted from images (btf/, written by the offline
// report; extracted again when needed) not used for olderThan, and the
// unpacked modules trees (trees/) whose archive is no longer cached. Records are
// small and kept, so a pruned blob is simply fetched again. olderThan <= 0
// empties the cache, records, extracted BTF and modules trees included.
//
// Prune holds the cache lock exclusively, so it waits for fetches in
// progress (they hold it shared) and none starts while it runs. It removes
// only regular files with the names the cache gives its entries; anything
// else, symlinks included, is left alone, and a cache directory that is a
// symlink is an error.
func (c *Cache) Prune(ctx context.Context, olderThan time.Duration) (PruneStats, error) {
	var st PruneStats
	unlock, err := c.lockAll(ctx)
	if err != nil {
		return st, fmt.Errorf("prune: %w", err)
	}
	defer unlock()
	now := time.Now()
	cutoff := now.Add(-olderThan)
	tmpCutoff := now.Add(-time.Hour)
	recordCutoff := time.Time{}
	if olderThan <= 0 {
		cutoff, tmpCutoff, recordCutoff = now.Add(time.Hour), now.Add(time.Hour), now.Add(time.Hour)
	}
	dirs := []struct {
		sub    string
		cutoff time.Time
	}{
		{"blobs/sha256", cutoff},
		{"records", recordCutoff},
		{"tmp", tmpCutoff},
		{"btf", cutoff},
	}
	for _, d := range dirs {
		dir := filepath.Join(c.dir, d.sub)
		if _, err := os.Lstat(dir); d.sub == "btf" && errors.Is(err, fs.ErrNotExist) {
			continue // made only once a kernel's BTF was extracted
		}
		if err := realDir(c.dir, d.sub); err != nil {
			return st, fmt.Errorf("prune: %w", err)
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return st, err
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || !owned(d.sub, e.Name()) {
				continue
			}
			info, err := e.Info()
			if err != nil || !info.ModTime().Before(d.cutoff) {
				continue
			}
			if err := os.Remove(filepath.Join(dir, e.Name())); err == nil {
				st.Files++
				st.Bytes += info.Size()
			}
		}
	}
	if err := c.pruneTrees(olderThan <= 0, &st); err != nil {
		return st, fmt.Errorf("prune: %w", err)
	}
	return st, nil
}

// treesSub is the subdirectory of unpacked kernel modules trees, one
// directory per modules archive, named by the archive's SHA-256.
const treesSub = "trees"

// pruneTrees removes the unpacked modules trees whose archive blob is gone
// (pruned above), or every tree when all is set. A tree is unpacked again
// from its archive when a kernel needs it. Only directories named by a
// SHA-256 are touched; links are removed, never followed.
func (c *Cache) pruneTrees(all bool, st *PruneStats) error {
	dir := filepath.Join(c.dir, treesSub)
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil // made only once a kernel's modules were unpacked
	}
	if err := realDir(c.dir, treesSub); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.IsDir() || !validSum(e.Name()) {
			continue
		}
		if !all {
			if _, err := os.Lstat(filepath.Join(c.dir, "blobs", "sha256", e.Name())); err == nil {
				continue // its archive is still cached: the tree is in use
			}
		}
		tree := filepath.Join(dir, e.Name())
		var files int
		var bytes int64
		_ = filepath.WalkDir(tree, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if info, err := d.Info(); err == nil {
					files++
					bytes += info.Size()
				}
			}
			return nil
		})
		if err := os.RemoveAll(tree); err != nil {
			return fmt.Errorf("remove modules tree %s: %w", tree, err)
		}
		st.Files += files
		st.Bytes += bytes
	}
	return nil
}

// realDir checks that every component of sub under root is a directory,
// not a symlink to one.
func realDir(root, sub string) error {
	p := root
	for part := range strings.SplitSeq(sub, "/") {
		p = filepath.Join(p, part)
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if st.Mode().Type() != fs.ModeDir {
			what := "symlink"
			if st.Mode()&fs.ModeSymlink == 0 {
				what = "file of mode " + st.Mode().String()
			}
			return fmt.Errorf("%s is a %s, not a directory the cache made; refusing to touch it", p, what)
		}
	}
	return nil
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
