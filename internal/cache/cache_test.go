package cache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLookupStoreSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "digests.json")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	c, err := Open(path, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return now }
	if _, ok := c.Lookup("index.docker.io/library/nginx:1.25"); ok {
		t.Fatal("an empty cache answered")
	}
	c.Store("index.docker.io/library/nginx:1.25", "sha256:aa")
	c.Store("ghcr.io/acme/api:v1", "sha256:bb")
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved file: %v %v", fi, err)
	}

	// Another run, 30 minutes on: it reads the answers; another run saved
	// meanwhile; both survive the merge.
	d, err := Open(path, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	d.now = func() time.Time { return now.Add(30 * time.Minute) }
	if got, ok := d.Lookup("index.docker.io/library/nginx:1.25"); !ok || got != "sha256:aa" {
		t.Fatalf("Lookup = %q %v", got, ok)
	}
	other, _ := Open(path, time.Hour)
	other.now = d.now
	other.Store("quay.io/x/y:1", "sha256:cc")
	if err := other.Save(); err != nil {
		t.Fatal(err)
	}
	d.Store("index.docker.io/library/redis:7", "sha256:dd")
	if err := d.Save(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{"sha256:aa", "sha256:bb", "sha256:cc", "sha256:dd"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the merged cache lacks %s:\n%s", want, data)
		}
	}

	// Two hours on, every answer is stale: not used, and dropped on save.
	e, _ := Open(path, time.Hour)
	e.now = func() time.Time { return now.Add(2 * time.Hour) }
	if _, ok := e.Lookup("ghcr.io/acme/api:v1"); ok {
		t.Error("a stale answer was used")
	}
	e.Store("quay.io/x/y:2", "sha256:ee")
	if err := e.Save(); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	if strings.Contains(string(data), "sha256:aa") || !strings.Contains(string(data), "sha256:ee") {
		t.Errorf("stale entries kept, or the new one lost:\n%s", data)
	}
}

func TestOpenRefusesWhatIsNoCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.json")
	os.WriteFile(path, []byte("not json"), 0o600)
	if _, err := Open(path, 0); err == nil || !strings.Contains(err.Error(), "not a pinbot cache") {
		t.Errorf("err = %v", err)
	}
	os.WriteFile(path, []byte(`{"version": 9, "entries": {}}`), 0o600)
	if _, err := Open(path, 0); err == nil || !strings.Contains(err.Error(), "format 9") {
		t.Errorf("err = %v", err)
	}
}
