package imageref

import (
	"errors"
	"strings"
	"testing"
)

const dig = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParse(t *testing.T) {
	tests := []struct {
		in                string
		name, tag, digest string
		canonical         string
		familiar          string
	}{
		{"nginx", "nginx", "", "", "index.docker.io/library/nginx:latest", "nginx"},
		{"nginx:1.25", "nginx", "1.25", "", "index.docker.io/library/nginx:1.25", "nginx"},
		{"docker.io/library/nginx:1.25", "docker.io/library/nginx", "1.25", "", "index.docker.io/library/nginx:1.25", "nginx"},
		{"grafana/grafana:12.0.1", "grafana/grafana", "12.0.1", "", "index.docker.io/grafana/grafana:12.0.1", "grafana/grafana"},
		{"127.0.0.1:5000/team/app:v2", "127.0.0.1:5000/team/app", "v2", "", "127.0.0.1:5000/team/app:v2", "127.0.0.1:5000/team/app"},
		{"localhost:5000/app", "localhost:5000/app", "", "", "localhost:5000/app:latest", "localhost:5000/app"},
		{"quay.io/argoproj/argocd:v3.1@" + dig, "quay.io/argoproj/argocd", "v3.1", dig, "quay.io/argoproj/argocd:v3.1", "quay.io/argoproj/argocd"},
	}
	for _, tt := range tests {
		r, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if r.Name != tt.name || r.Tag != tt.tag || r.Digest != tt.digest {
			t.Errorf("Parse(%q) = %+v", tt.in, r)
		}
		if r.String() != tt.in {
			t.Errorf("Parse(%q).String() = %q: the written form must round-trip", tt.in, r.String())
		}
		c, err := r.Canonical()
		if err != nil || c.Name() != tt.canonical {
			t.Errorf("Parse(%q).Canonical() = %v, %v; want %s", tt.in, c, err, tt.canonical)
		}
		if got := r.Familiar(); got != tt.familiar {
			t.Errorf("Parse(%q).Familiar() = %q, want %q", tt.in, got, tt.familiar)
		}
	}
}

func TestWithDigestKeepsWrittenName(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":      "nginx@" + dig,
		"nginx:1.25": "nginx:1.25@" + dig,
		"nginx:1.25@sha256:" + strings.Repeat("f", 64): "nginx:1.25@" + dig,
		"docker.io/nginx:1.25":                         "docker.io/nginx:1.25@" + dig,
	} {
		r, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.WithDigest(dig); got != want {
			t.Errorf("%q.WithDigest = %q, want %q", in, got, want)
		}
	}
}

func TestDigestOnlyFollowsNothing(t *testing.T) {
	r, err := Parse("nginx@" + dig)
	if err != nil {
		t.Fatal(err)
	}
	if r.Follows() != "" {
		t.Errorf("Follows() = %q, want none", r.Follows())
	}
	if _, err := r.Canonical(); err == nil {
		t.Error("Canonical() of a digest-only reference succeeded")
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"", " nginx", "<image_url>", "CONTAINER_IMAGES_REGISTRY/adservice", "nginx:", "nginx@sha256:abc",
		"nginx@md5:0123", "registry/Upper:tag",
	} {
		if r, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", in, r)
		}
	}
	for _, in := range []string{"${IMAGE}", "$(REGISTRY)/app:v1", "nginx:{{ .Values.tag }}", "ghcr.io/x/y:${{ matrix.v }}", "{{inputs.parameters.image}}"} {
		if _, err := Parse(in); !errors.Is(err, ErrVariable) {
			t.Errorf("Parse(%q) = %v, want ErrVariable", in, err)
		}
	}
}
