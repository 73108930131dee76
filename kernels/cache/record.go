package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/corematrix/corematrix/internal/atomicfile"
)

var unsafeKey = regexp.MustCompile(`[^A-Za-z0-9._+~=-]+`)

// recordPath maps a record key (any string) to a file name: a readable
// prefix plus a hash, so distinct keys never collide.
func (c *Cache) recordPath(key string) string {
	h := sha256.Sum256([]byte(key))
	safe := unsafeKey.ReplaceAllString(key, "_")
	if len(safe) > 80 {
		safe = safe[:80]
	}
	return filepath.Join(c.dir, "records", safe+"."+hex.EncodeToString(h[:6])+".json")
}

// envelope wraps a record's value with its key and write time.
type envelope struct {
	Key     string          `json:"key"`
	Written time.Time       `json:"written"`
	Value   json.RawMessage `json:"value"`
}

// GetRecord decodes the record key into v and returns when it was written.
// A missing record gives ErrMiss.
func (c *Cache) GetRecord(key string, v any) (time.Time, error) {
	data, err := os.ReadFile(c.recordPath(key))
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, fmt.Errorf("record %s: %w", key, ErrMiss)
	}
	if err != nil {
		return time.Time{}, err
	}
	var e envelope
	if err := json.Unmarshal(data, &e); err != nil || e.Key != key {
		os.Remove(c.recordPath(key))
		return time.Time{}, fmt.Errorf("record %s: %w", key, ErrCorrupt)
	}
	if err := json.Unmarshal(e.Value, v); err != nil {
		os.Remove(c.recordPath(key))
		return time.Time{}, fmt.Errorf("record %s: %w", key, ErrCorrupt)
	}
	return e.Written, nil
}

// PutRecord stores v as JSON under key, atomically.
func (c *Cache) PutRecord(key string, v any) error {
	val, err := json.Marshal(v)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(envelope{Key: key, Written: time.Now().UTC(), Value: val}, "", "  ")
	if err != nil {
		return err
	}
	return c.writeAtomic(c.recordPath(key), data)
}

// TouchRecord marks the record key as written now without changing it.
func (c *Cache) TouchRecord(key string) error {
	var raw json.RawMessage
	if _, err := c.GetRecord(key, &raw); err != nil {
		return err
	}
	return c.PutRecord(key, raw)
}

// writeAtomic writes data to path through a temporary file in the cache's
// tmp directory.
func (c *Cache) writeAtomic(path string, data []byte) error {
	w, err := atomicfile.Create(filepath.Join(c.dir, "tmp"), "record-*")
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Commit(path, 0)
}
