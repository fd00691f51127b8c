package render

import (
	"context"
	"errors"
	"maps"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	RunWorkerIfAsked() // the sandbox's workers are this test binary
	os.Exit(m.Run())
}

func chartWith(template string) Files {
	return Files{
		"Chart.yaml":         []byte("apiVersion: v2\nname: app\nversion: 1.0.0\n"),
		"values.yaml":        []byte("image: {repository: nginx, tag: \"1.27\"}\n"),
		"templates/pod.yaml": []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: a\n    image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n"),
		"templates/x.yaml":   []byte(template),
	}
}

// A render in the sandbox is the render in-process; one that loops past
// its deadline, or grows past its memory or its output bound, is stopped
// (its worker killed, not left running), and the next render still works.
func TestSandbox(t *testing.T) {
	s, err := NewSandbox(2, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	quick, err := NewSandbox(1, 2*time.Second) // for the render that never ends
	if err != nil {
		t.Fatal(err)
	}
	defer quick.Close()
	ctx := context.Background()
	plain := chartWith("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
	want, err := Render(ctx, plain, []byte("image: {tag: \"1.28\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Render(ctx, plain, []byte("image: {tag: \"1.28\"}\n"))
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("the sandbox renders %v (%v), want %v", got, err, want)
	}
	if _, err := s.Render(ctx, chartWith("{{ required \"x is required\" .Values.x }}"), nil); err == nil || !strings.Contains(err.Error(), "x is required") {
		t.Errorf("a failing render: %v, want the chart's own message", err)
	}
	for name, c := range map[string]struct {
		template string
		why      string
		s        *Sandbox
	}{
		"endless": {"{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}", "past 2s", quick},
		"memory":  {"data: {{ repeat 5000000000 \"x\" | len }}", "memory", s},
		"huge":    {"data: {{ repeat 70000000 \"x\" }}", "more than 64 MiB", s},
	} {
		start := time.Now()
		_, err := c.s.Render(ctx, chartWith(c.template), nil)
		if !errors.Is(err, ErrKilled) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: %v, want the render stopped (%s)", name, err, c.why)
		}
		if d := time.Since(start); d > 50*time.Second {
			t.Errorf("%s: stopped after %s", name, d)
		}
	}
	if got, err := s.Render(ctx, plain, []byte("image: {tag: \"1.28\"}\n")); err != nil || !maps.Equal(got, want) {
		t.Errorf("after the kills, the sandbox renders %v (%v)", got, err)
	}
	s.mu.Lock()
	n := len(s.all)
	s.mu.Unlock()
	if n > 2 {
		t.Errorf("%d workers alive, at most 2 asked for", n)
	}
}

// A worker runs a chart's templates: it gets none of pinbot's environment
// (GITHUB_TOKEN, registry credentials), only what makes it a worker.
func TestWorkerEnvHoldsNoSecret(t *testing.T) {
	t.Setenv("GITHUB_TOKEN", "ghs_secret")
	env := workerEnv()
	if len(env) != 1 || env[0] != WorkerEnv+"=1" {
		t.Errorf("a worker's environment: %q", env)
	}
	// and with it, a worker still renders
	s, err := NewSandbox(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Render(context.Background(), chartWith("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"), nil); err != nil {
		t.Fatal(err)
	}
}
