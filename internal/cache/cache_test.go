package cache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const nginxKey = "https://index.docker.io/library/nginx:1.25"

// dig is a digest of 64 times the hex digit h.
func dig(h string) string { return "sha256:" + strings.Repeat(h, 64) }

func TestLookupStoreSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "digests.json")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	c, err := Open(path, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return now }
	if _, ok := c.Lookup(nginxKey); ok {
		t.Fatal("an empty cache answered")
	}
	c.Store(nginxKey, dig("a"))
	c.Store("https://ghcr.io/acme/api:v1", dig("b"))
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved file: %v %v", fi, err)
	}

	// Another run, 30 minutes on: it reads the answers; another run saved
	// meanwhile; both survive the merge.
	d, err := Open(path, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.now = func() time.Time { return now.Add(30 * time.Minute) }
	if got, ok := d.Lookup(nginxKey); !ok || got != dig("a") {
		t.Fatalf("Lookup = %q %v", got, ok)
	}
	other, _ := Open(path, time.Hour, nil)
	other.now = d.now
	other.Store("https://quay.io/x/y:1", dig("c"))
	if err := other.Save(); err != nil {
		t.Fatal(err)
	}
	d.Store("https://index.docker.io/library/redis:7", dig("d"))
	if err := d.Save(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{dig("a"), dig("b"), dig("c"), dig("d")} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the merged cache lacks %s:\n%s", want, data)
		}
	}

	// Two hours on, every answer is stale: not used, and dropped on save.
	e, _ := Open(path, time.Hour, nil)
	e.now = func() time.Time { return now.Add(2 * time.Hour) }
	if _, ok := e.Lookup("https://ghcr.io/acme/api:v1"); ok {
		t.Error("a stale answer was used")
	}
	e.Store("http://127.0.0.1:5000/quay/x/y:2", dig("e"))
	if err := e.Save(); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	if strings.Contains(string(data), dig("a")) || !strings.Contains(string(data), dig("e")) {
		t.Errorf("stale entries kept, or the new one lost:\n%s", data)
	}
}

func TestOpenRefusesWhatIsNoCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.json")
	os.WriteFile(path, []byte("not json"), 0o600)
	if _, err := Open(path, 0, nil); err == nil || !strings.Contains(err.Error(), "not a pinbot cache") {
		t.Errorf("err = %v", err)
	}
	os.WriteFile(path, []byte(`{"version": 9, "entries": {}}`), 0o600)
	if _, err := Open(path, 0, nil); err == nil || !strings.Contains(err.Error(), "format 9") {
		t.Errorf("err = %v", err)
	}
}

// TestEntriesFromOutsideAreChecked: a cache file is data anyone with access
// to the shared cache could have written. An entry whose digest is not
// "sha256:" and 64 lowercase hex digits, or whose key is not a tag as
// pinbot files it, is dropped with a warning, not answered, and not saved
// again; the good entries beside it still answer. A cache of the older
// format (answers by the reference as written) is not used.
func TestEntriesFromOutsideAreChecked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.json")
	now := time.Now().UTC().Format(time.RFC3339)
	evil := dig("a") + "\n    command: [sh, -c, evil]"
	bad := map[string]string{
		nginxKey:                              evil,
		"https://index.docker.io/library/a:1": "sha256:" + strings.Repeat("A", 64),
		"https://index.docker.io/library/b:1": "sha512:" + strings.Repeat("a", 128),
		"https://index.docker.io/library/c:1": dig("a")[:70],
		"index.docker.io/library/d:1":         dig("d"), // the older key
		"https://x/y:1\n::error::z":           dig("e"),
	}
	var entries []string
	for k, v := range bad {
		kj, _ := json.Marshal(k)
		vj, _ := json.Marshal(v)
		entries = append(entries, fmt.Sprintf(`%s: {"digest": %s, "resolved": %q}`, kj, vj, now))
	}
	entries = append(entries, fmt.Sprintf(`"https://ghcr.io/acme/api:v1": {"digest": %q, "resolved": %q}`, dig("b"), now))
	os.WriteFile(path, []byte(`{"version": 2, "entries": {`+strings.Join(entries, ",")+`}}`), 0o600)
	var logged bytes.Buffer
	c, err := Open(path, time.Hour, slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for k := range bad {
		if d, ok := c.Lookup(k); ok {
			t.Errorf("%q answered %q", k, d)
		}
	}
	if d, ok := c.Lookup("https://ghcr.io/acme/api:v1"); !ok || d != dig("b") {
		t.Errorf("the good entry: %q %v", d, ok)
	}
	if n := strings.Count(logged.String(), "ignored"); n != len(bad) {
		t.Errorf("%d warnings, want %d:\n%s", n, len(bad), logged.String())
	}
	c.Store("https://quay.io/x/y:1", dig("c"))
	c.Store("https://quay.io/x/y:2", evil) // never from pinbot itself; not kept either
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "command") || strings.Contains(string(data), "error") || strings.Count(string(data), `"digest"`) != 2 {
		t.Errorf("saved:\n%s", data)
	}

	os.WriteFile(path, []byte(fmt.Sprintf(`{"version": 1, "entries": {"index.docker.io/library/nginx:1.25": {"digest": %q, "resolved": %q}}}`, dig("a"), now)), 0o600)
	logged.Reset()
	c, err = Open(path, time.Hour, slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Lookup("index.docker.io/library/nginx:1.25"); ok || !strings.Contains(logged.String(), "older format") {
		t.Errorf("a format 1 entry answered, or no warning:\n%s", logged.String())
	}
}

// A sighting is never older than the cache file's first write: a file
// edited to backdate a move cannot release it past --min-age; a file
// written before the first write was kept bounds its sightings by now.
func TestFirstSeenIsNeverOlderThanTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "digests.json")
	created := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	key := "ghcr.io/acme/app:1@" + dig("a")
	write := func(file string) {
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	read := func() time.Time {
		c, err := Open(path, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.now = func() time.Time { return created.Add(72 * time.Hour) }
		return c.FirstSeen()[key]
	}
	write(`{"version": 2, "entries": {}, "created": "2026-12-01T00:00:00Z", "firstSeen": {"` + key + `": "2000-01-01T00:00:00Z"}}`)
	if got := read(); !got.Equal(created) {
		t.Errorf("a sighting before the file's first write is read as %s, want %s", got, created)
	}
	write(`{"version": 2, "entries": {}, "created": "2026-12-01T00:00:00Z", "firstSeen": {"` + key + `": "2026-12-02T00:00:00Z"}}`)
	if got := read(); !got.Equal(created.Add(24 * time.Hour)) {
		t.Errorf("a sighting after the file's first write is read as %s", got)
	}
	write(`{"version": 2, "entries": {}, "firstSeen": {"` + key + `": "2000-01-01T00:00:00Z"}}`)
	if got := read(); !got.Equal(created.Add(72 * time.Hour)) {
		t.Errorf("a file with no first write bounds its sightings by %s, want now", got)
	}

	// a new file records its first write, and a later save keeps it
	os.Remove(path)
	c, _ := Open(path, time.Hour, nil)
	c.now = func() time.Time { return created }
	c.SetFirstSeen(map[string]time.Time{key: created})
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c, _ = Open(path, time.Hour, nil)
	c.now = func() time.Time { return created.Add(time.Hour) }
	c.SetFirstSeen(map[string]time.Time{key: created})
	c.Save()
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `"created": "2026-12-01T00:00:00Z"`) {
		t.Errorf("the first write is not kept:\n%s", data)
	}
}
