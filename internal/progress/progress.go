// Package progress tracks a run as it goes (files scanned, references
// resolved, the registry requests still waiting) and draws it on a
// terminal: one line, redrawn in place, cleared at the end.
package progress

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Tracker counts a run's work. A nil Tracker counts nothing: every method
// may be called on it.
type Tracker struct {
	filesTotal, filesDone atomic.Int64
	refsTotal, refsDone   atomic.Int64

	mu       sync.Mutex
	seq      int64
	inflight map[int64]request
	now      func() time.Time
}

type request struct {
	host  string
	start time.Time
}

// New is a Tracker.
func New() *Tracker { return &Tracker{inflight: map[int64]request{}, now: time.Now} }

// AddFiles adds n files to scan.
func (t *Tracker) AddFiles(n int) {
	if t != nil {
		t.filesTotal.Add(int64(n))
	}
}

// FileDone counts a file scanned.
func (t *Tracker) FileDone() {
	if t != nil {
		t.filesDone.Add(1)
	}
}

// AddRefs adds n references (or digests) to ask registries about.
func (t *Tracker) AddRefs(n int) {
	if t != nil {
		t.refsTotal.Add(int64(n))
	}
}

// Start records a request to host, and returns the function that ends it
// (and counts its reference done).
func (t *Tracker) Start(host string) (done func()) {
	if t == nil {
		return func() {}
	}
	t.mu.Lock()
	t.seq++
	id := t.seq
	t.inflight[id] = request{host, t.now()}
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		delete(t.inflight, id)
		t.mu.Unlock()
		t.refsDone.Add(1)
	}
}

// RefDone counts a reference answered without a request (from a cache).
func (t *Tracker) RefDone() {
	if t != nil {
		t.refsDone.Add(1)
	}
}

// Line is the run so far, in one line: "files 120/2000 · references 40/300
// · waiting on quay.io (4s)".
func (t *Tracker) Line() string {
	var parts []string
	if n := t.filesTotal.Load(); n > 0 {
		parts = append(parts, fmt.Sprintf("files %d/%d", t.filesDone.Load(), n))
	}
	if n := t.refsTotal.Load(); n > 0 {
		parts = append(parts, fmt.Sprintf("references %d/%d", t.refsDone.Load(), n))
	}
	t.mu.Lock()
	oldest := map[string]time.Time{}
	count := map[string]int{}
	for _, r := range t.inflight {
		if s, ok := oldest[r.host]; !ok || r.start.Before(s) {
			oldest[r.host] = r.start
		}
		count[r.host]++
	}
	now := t.now()
	t.mu.Unlock()
	if len(oldest) > 0 {
		hosts := make([]string, 0, len(oldest))
		for h := range oldest {
			hosts = append(hosts, h)
		}
		sort.Slice(hosts, func(i, j int) bool { return oldest[hosts[i]].Before(oldest[hosts[j]]) })
		h := hosts[0]
		wait := now.Sub(oldest[h]).Truncate(time.Second)
		s := fmt.Sprintf("slowest: %s, %d waiting", h, count[h])
		if wait >= time.Second {
			s += fmt.Sprintf(" (%s)", wait)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " · ")
}

// Display redraws a Tracker's line on a terminal until stopped.
type Display struct {
	t    *Tracker
	w    io.Writer
	stop chan struct{}
	done chan struct{}
}

// Show draws t on w (a terminal) every interval until Stop.
func Show(t *Tracker, w io.Writer, interval time.Duration) *Display {
	d := &Display{t: t, w: w, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(d.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-d.stop:
				fmt.Fprint(d.w, "\r\x1b[K") // the line cleared: the report follows
				return
			case <-tick.C:
				if line := d.t.Line(); line != "" {
					fmt.Fprint(d.w, "\r\x1b[K"+line)
				}
			}
		}
	}()
	return d
}

// Stop clears the line and returns when the drawing has stopped.
func (d *Display) Stop() {
	if d == nil {
		return
	}
	close(d.stop)
	<-d.done
}
