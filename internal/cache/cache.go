// Package cache keeps the digests tags resolved to, in a file a fleet of
// runs shares (the Actions cache between the jobs of a matrix): reference
// -> digest and when it was resolved. An answer younger than the TTL is
// used instead of asking the registry again.
package cache

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// DefaultTTL is how long an answer is used.
const DefaultTTL = time.Hour

// version is the file's format.
const version = 1

// Entry is one tag's answer.
type Entry struct {
	Digest   string    `json:"digest"`
	Resolved time.Time `json:"resolved"`
}

type file struct {
	Version int              `json:"version"`
	Entries map[string]Entry `json:"entries"` // by canonical tag
}

// Cache is a cache file, read once and saved once.
type Cache struct {
	path string
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex
	entries map[string]Entry
	dirty   map[string]bool
}

// Open reads the cache at path; a missing file is an empty cache. ttl <= 0
// means DefaultTTL.
func Open(path string, ttl time.Duration) (*Cache, error) {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	c := &Cache{path: path, ttl: ttl, now: time.Now, entries: map[string]Entry{}, dirty: map[string]bool{}}
	f, err := read(path)
	if err != nil {
		return nil, err
	}
	c.entries = f.Entries
	return c, nil
}

func read(path string) (*file, error) {
	f := &file{Version: version, Entries: map[string]Entry{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, f); err != nil {
		return nil, fmt.Errorf("%s: not a pinbot cache: %v", path, err)
	}
	if f.Version != version {
		return nil, fmt.Errorf("%s: cache format %d, pinbot reads %d", path, f.Version, version)
	}
	if f.Entries == nil {
		f.Entries = map[string]Entry{}
	}
	return f, nil
}

// Lookup is the digest cached for a canonical tag, when it is fresh.
func (c *Cache) Lookup(tag string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[tag]
	if !ok || c.now().Sub(e.Resolved) > c.ttl || c.now().Before(e.Resolved.Add(-time.Minute)) {
		return "", false
	}
	return e.Digest, true
}

// Store records what the registry answered for a tag now.
func (c *Cache) Store(tag, digest string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[tag] = Entry{Digest: digest, Resolved: c.now().UTC()}
	c.dirty[tag] = true
}

// Save writes the cache back: what is on disk now (another run may have
// saved since this one read), with this run's answers on top and stale
// entries dropped, through a temporary file renamed over the old.
func (c *Cache) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.dirty) == 0 {
		return nil
	}
	f, err := read(c.path)
	if err != nil {
		f = &file{Version: version, Entries: map[string]Entry{}}
	}
	for tag := range c.dirty {
		f.Entries[tag] = c.entries[tag]
	}
	for tag, e := range f.Entries {
		if c.now().Sub(e.Resolved) > c.ttl {
			delete(f.Entries, tag)
		}
	}
	data, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return err
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	dir := filepath.Dir(c.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+filepath.Base(c.path)+".tmp-"+hex.EncodeToString(rnd[:]))
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, c.path); err != nil {
		os.Remove(tmp)
		return err
	}
	c.dirty = map[string]bool{}
	return nil
}
