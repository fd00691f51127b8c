package progress

import (
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLine(t *testing.T) {
	tr := New()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr.now = func() time.Time { return now }
	if got := tr.Line(); got != "" {
		t.Errorf("an idle tracker says %q", got)
	}
	tr.AddFiles(10)
	for i := 0; i < 4; i++ {
		tr.FileDone()
	}
	tr.AddRefs(5)
	tr.RefDone()
	doneA := tr.Start("quay.io")
	now = now.Add(3 * time.Second)
	tr.Start("quay.io")
	doneB := tr.Start("ghcr.io")
	now = now.Add(4 * time.Second)
	if got, want := tr.Line(), "files 4/10 · references 1/5 · slowest: quay.io, 2 waiting (7s)"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
	doneA()
	doneB()
	if got, want := tr.Line(), "files 4/10 · references 3/5 · slowest: quay.io, 1 waiting (4s)"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
	var nilTracker *Tracker
	nilTracker.AddFiles(1)
	nilTracker.Start("x")()
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestShow: the line is redrawn in place and cleared at the end.
func TestShow(t *testing.T) {
	tr := New()
	tr.AddFiles(2)
	tr.FileDone()
	var out syncBuf
	d := Show(tr, &out, time.Millisecond)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), "files 1/2"); {
		if time.Now().After(deadline) {
			t.Fatal("nothing drawn")
		}
		time.Sleep(time.Millisecond)
	}
	d.Stop()
	s := out.String()
	if !strings.HasPrefix(s, "\r\x1b[Kfiles 1/2") || !strings.HasSuffix(s, "\r\x1b[K") || strings.Contains(s, "\n") {
		t.Errorf("drawn: %q", s)
	}
}
