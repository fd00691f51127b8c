// Package cache keeps the digests tags resolved to, in a file a fleet of
// runs shares (the Actions cache between the jobs of a matrix): the tag as
// it was asked (after mirroring, with its scheme) -> digest and when it was
// resolved. An answer younger than the TTL is used instead of asking the
// registry again.
//
// The file is data from outside: an entry whose digest is not "sha256:"
// and 64 lowercase hex digits, or whose key is not a tag as pinbot files
// them, is dropped with a warning, never used and never written back.
package cache

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/pinbot/pinbot/internal/imageref"
)

// DefaultTTL is how long an answer is used.
const DefaultTTL = time.Hour

// version is the file's format. Version 1 filed answers by the reference
// as written, whatever mirror answered: its entries are not used.
const version = 2

// Entry is one tag's answer.
type Entry struct {
	Digest   string    `json:"digest"`
	Resolved time.Time `json:"resolved"`
}

type file struct {
	Version int              `json:"version"`
	Entries map[string]Entry `json:"entries"` // by canonical tag
	// FirstSeen is when a run first saw each tag move to a digest
	// (canonical tag "@" digest): the cooldown's clock (--min-age).
	FirstSeen map[string]time.Time `json:"firstSeen,omitempty"`
	// Created is when a run first wrote the file: no run could have seen a
	// move before it, so no sighting read is earlier.
	Created time.Time `json:"created,omitzero"`
}

// forgetAfter is how long a first sighting is kept once no run reports it.
const forgetAfter = 90 * 24 * time.Hour

// Cache is a cache file, read once and saved once.
type Cache struct {
	path string
	ttl  time.Duration
	now  func() time.Time

	mu        sync.Mutex
	entries   map[string]Entry
	dirty     map[string]bool
	firstSeen map[string]time.Time // this run's, when set
	seenRead  map[string]time.Time // as the file held them
	created   time.Time            // the file's first write; zero: none yet
}

// Open reads the cache at path; a missing file is an empty cache. ttl <= 0
// means DefaultTTL. Entries that fail validation are dropped, each with a
// warning to log (nil: not logged).
func Open(path string, ttl time.Duration, log *slog.Logger) (*Cache, error) {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cache{path: path, ttl: ttl, now: time.Now, entries: map[string]Entry{}, dirty: map[string]bool{}}
	f, err := c.read(log)
	if err != nil {
		return nil, err
	}
	c.entries = f.Entries
	c.seenRead = f.FirstSeen
	c.created = f.Created
	return c, nil
}

// FirstSeen is when earlier runs first saw each move (see file.FirstSeen),
// none earlier than the file's first write: a file with sightings and no
// such time (written before pinbot kept it) bounds them by now, which
// starts their cooldown again once rather than trusting them.
func (c *Cache) FirstSeen() map[string]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	floor := c.created
	if floor.IsZero() {
		floor = c.now().UTC().Truncate(time.Second)
	}
	out := make(map[string]time.Time, len(c.seenRead))
	for k, t := range c.seenRead {
		out[k] = latest(t, floor)
	}
	return out
}

func latest(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// SetFirstSeen records this run's first sightings, saved by Save over
// what is on disk.
func (c *Cache) SetFirstSeen(seen map[string]time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.firstSeen = seen
}

// keyRE is a key as pinbot files it: a scheme, then a tag as
// go-containerregistry names it, on one line of printable ASCII. It is
// compiled when first used: its counted repetition would cost every run's
// start-up a compile.
var keyRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^https?://[a-z0-9.:\[\]-]+/[a-z0-9._/-]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
})

// read reads the file, dropping the entries that fail validation, each
// with a warning to log.
func (c *Cache) read(log *slog.Logger) (*file, error) {
	f := &file{Version: version, Entries: map[string]Entry{}}
	data, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	var v struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%s: not a pinbot cache: %v", c.path, err)
	}
	switch {
	case v.Version < version:
		log.Warn("the digest cache is of an older format: its entries are not used", "file", c.path, "format", v.Version)
		return f, nil
	case v.Version > version:
		return nil, fmt.Errorf("%s: cache format %d, pinbot reads %d", c.path, v.Version, version)
	}
	if err := json.Unmarshal(data, f); err != nil {
		return nil, fmt.Errorf("%s: not a pinbot cache: %v", c.path, err)
	}
	if f.Entries == nil {
		f.Entries = map[string]Entry{}
	}
	for k, t := range f.FirstSeen {
		if !imageref.FirstSeenKey(k) || t.IsZero() {
			log.Warn("a digest cache's first sighting is not a tag and a digest: ignored", "file", c.path, "key", k)
			delete(f.FirstSeen, k)
		}
	}
	for k, e := range f.Entries {
		switch {
		case !keyRE().MatchString(k):
			log.Warn("a digest cache entry is not a tag as pinbot files it: ignored", "file", c.path, "key", k)
		case !imageref.ValidDigest(e.Digest):
			log.Warn("a digest cache entry is not a sha256 digest: ignored", "file", c.path, "key", k, "digest", e.Digest)
		default:
			continue
		}
		delete(f.Entries, k)
	}
	return f, nil
}

// Lookup is the digest cached under key, when it is fresh.
func (c *Cache) Lookup(tag string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[tag]
	if !ok || c.now().Sub(e.Resolved) > c.ttl || c.now().Before(e.Resolved.Add(-time.Minute)) {
		return "", false
	}
	return e.Digest, true
}

// Store records what the registry answered for a tag now; a key or digest
// that would not be read back is not kept.
func (c *Cache) Store(tag, digest string) {
	if !keyRE().MatchString(tag) || !imageref.ValidDigest(digest) {
		return
	}
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
	if len(c.dirty) == 0 && c.firstSeen == nil {
		return nil
	}
	f, err := c.read(slog.New(slog.DiscardHandler)) // told once, when opened
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
	if f.Created.IsZero() {
		f.Created = c.now().UTC().Truncate(time.Second)
	}
	if c.firstSeen != nil {
		if f.FirstSeen == nil {
			f.FirstSeen = map[string]time.Time{}
		}
		for k, t := range c.firstSeen {
			if imageref.FirstSeenKey(k) {
				f.FirstSeen[k] = latest(t, f.Created).UTC()
			}
		}
		for k, t := range f.FirstSeen {
			if c.now().Sub(t) > forgetAfter {
				delete(f.FirstSeen, k)
			}
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
