package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestQuickstart runs the README's first command end to end: it builds
// pinbot, pins the example repository against the in-process registry, and
// renews a digest after a tag moves.
func TestQuickstart(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, false); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`16 references to pin or update: run pinbot pin to fix\n\(exit status 1\)`),
		regexp.MustCompile(`\+\s+imagePullPolicy: IfNotPresent`),
		regexp.MustCompile(`16 pinned, 4 skipped in 10 files scanned; 8 files changed`),
		regexp.MustCompile(`all image references are pinned and current \(16 current, 4 skipped in 10 files scanned; 1 of 1 Helm chart judged by rendering \(2 of 2 image values pinned\)\)`),
		regexp.MustCompile(`deploy/redis.yaml:16: redis:7.2@sha256:[0-9a-f]{64} -> redis:7.2@sha256:[0-9a-f]{64} \(tag moved\)`),
		regexp.MustCompile(`3 updated, 13 current, 4 skipped in 10 files scanned; 3 files changed`),
		regexp.MustCompile(`charts/shop/values.yaml:5: docker.io/nginx:1.27.3 -> docker.io/nginx:1.27.3@sha256:[0-9a-f]{64}; imagePullPolicy Always -> IfNotPresent`),
		regexp.MustCompile(`\+\s+digest: "sha256:[0-9a-f]{64}"`),
		regexp.MustCompile(`\+      - uses: actions/checkout@[0-9a-f]{40} # v4\n`),
		regexp.MustCompile(`skipped 2: built from a variable or template \(charts/shop/templates/deployment.yaml:11 `),
	} {
		if !want.MatchString(out.String()) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "oliver006/redis_exporter:v1.62.0@") {
		t.Error("a reference marked # pinbot:ignore was pinned")
	}
}
