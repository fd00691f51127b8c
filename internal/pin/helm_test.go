package pin

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/pinbot/pinbot/internal/checkout"
	"github.com/pinbot/pinbot/internal/imageref"
	"github.com/pinbot/pinbot/internal/render"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/pinbot/pinbot/internal/resolve"
	"github.com/pinbot/pinbot/internal/rewrite"
)

// digestOf is the digest anyResolver serves for a canonical tag name.
func digestOf(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// anyResolver serves every tag, its digest derived from its name.
type anyResolver struct{ noChecks }

func (anyResolver) Resolve(_ context.Context, tags []name.Tag) map[string]resolve.Result {
	out := map[string]resolve.Result{}
	for _, t := range tags {
		out[t.Name()] = resolve.Result{Digest: digestOf(t.Name())}
	}
	return out
}

func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// helmTemplate renders the chart in dir as "helm template [-f values]"
// does (values: a file of the chart, or "inline:" and YAML), in-process with Helm's engine: every template's output, in order of
// name, as one stream.
func helmTemplate(t *testing.T, dir string, values ...string) string {
	t.Helper()
	files := render.Files{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var extra []byte
	if len(values) > 0 {
		extra = files[values[0]]
		if v, ok := strings.CutPrefix(values[0], "inline:"); ok {
			extra = []byte(v)
		}
	}
	out, err := render.Render(context.Background(), files, extra)
	if err != nil {
		t.Fatalf("rendering %s %v: %v", dir, values, err)
	}
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(out)) {
		b.WriteString("# Source: " + name + "\n" + out[name] + "\n---\n")
	}
	return b.String()
}

var pinnedRefRE = regexp.MustCompile(`([^\s"'@]+)@(sha256:[0-9a-f]{64})`)

// checkRendered: the pinned chart renders every line as before, but for
// image references that gained the digest their tag resolves to (keeping
// the tag, or dropping it where the chart does once a digest is set) and
// pull policies; it returns the references that gained a digest.
func checkRendered(t *testing.T, before, again, after string) []string {
	t.Helper()
	b, a, c := strings.Split(before, "\n"), strings.Split(after, "\n"), strings.Split(again, "\n")
	if len(a) != len(b) {
		t.Fatalf("the rendered chart has %d lines, was %d:\n%s", len(a), len(b), after)
	}
	var pinned []string
	for i := range a {
		if a[i] == b[i] || len(c) == len(b) && c[i] != b[i] { // the same, or random
			continue
		}
		if strings.Contains(a[i], "imagePullPolicy") && strings.Contains(b[i], "imagePullPolicy") {
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(a[i]), "#") && strings.HasPrefix(strings.TrimSpace(b[i]), "#") {
			continue // a comment: read through by the proof
		}
		m := pinnedRefRE.FindStringSubmatchIndex(a[i])
		if m == nil {
			t.Errorf("line %d changed, and not by a digest:\n  was %s\n  now %s", i+1, b[i], a[i])
			continue
		}
		prefix, digest := a[i][m[2]:m[3]], a[i][m[4]:m[5]]
		without := a[i][:m[0]] + prefix + a[i][m[1]:]
		ref := prefix
		if without != b[i] {
			// the chart dropped the tag: the line was prefix:tag
			rest := strings.TrimPrefix(b[i], a[i][:m[0]]+prefix+":")
			tag := rest
			if j := strings.IndexAny(rest, "\"' "); j >= 0 {
				tag = rest[:j]
			}
			ref = prefix + ":" + tag
			if a[i][:m[0]]+ref+a[i][m[1]:] != b[i] {
				t.Errorf("line %d changed beyond a digest:\n  was %s\n  now %s", i+1, b[i], a[i])
				continue
			}
		}
		tg, err := name.NewTag(ref)
		if err != nil {
			t.Errorf("line %d: %v", i+1, err)
			continue
		}
		if want := digestOf(tg.Name()); digest != want {
			t.Errorf("line %d: %s pinned to %s, but its tag resolves to %s", i+1, ref, digest, want)
		}
		pinned = append(pinned, ref)
	}
	return pinned
}

// TestHelmChartsRender pins charts shaped like the popular ones (a
// registry/repository/tag/digest map rendered through a library subchart;
// a tag defaulting to v+appVersion; tag | default .Chart.AppVersion with a
// digest key the templates read; repository/tag maps under several keys,
// one rendered into an env value; sidecar lists; a literal image line in a
// template) and judges the pins on what helm template renders.
func TestHelmChartsRender(t *testing.T) {
	root := t.TempDir()
	copyTree(t, "testdata/charts", root)
	cases := []struct {
		chart  string
		values []string
		pinned []string // references the rendered chart must pin
		left   []string // rendered references that stay as they are
	}{
		{chart: "db", pinned: []string{
			"docker.io/bitnami/postgresql:17.6.0-debian-12-r4", "docker.io/bitnami/os-shell:12-debian-12-r51",
			"docker.io/bitnami/postgres-exporter:17.6.0", "busybox:1.36", "docker.io/library/alpine:3.20",
		}},
		{chart: "db", values: []string{"ci/tls-values.yaml"}, pinned: []string{
			"docker.io/bitnami/postgresql:17.6.0-debian-12-r4", "docker.io/bitnami/os-shell:12-debian-12-r51",
			"quay.io/prometheuscommunity/postgres-exporter:v0.17.1", "busybox:1.36", "docker.io/library/alpine:3.20",
		}},
		// a tag left to appVersion (tag: "" and v + appVersion in the
		// template): the tag the chart renders goes into the map, with
		// the digest, marked as following appVersion
		{chart: "metrics", pinned: []string{"registry.k8s.io/autoscaling/addon-resizer:1.8.23", "registry.k8s.io/metrics-server/metrics-server:v0.8.0"}},
		{chart: "collector", values: []string{"ci/deployment-values.yaml"},
			pinned: []string{"ghcr.io/open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-k8s:0.158.0"}},
		{chart: "vault", pinned: []string{"hashicorp/vault:2.0.4", "nginx:1.27-alpine", "hashicorp/vault-k8s:1.7.6", "hashicorp/vault:2.0.4"}},
		// a digest key the template decorates with "@sha256:": bare hex
		{chart: "decorated", pinned: []string{"docker.io/library/busybox:1.31.1", "docker.io/library/busybox:1.31.1"}},
		// a tag the template derives (v + appVersion): the digest is v2.20.0's
		{chart: "derived", pinned: []string{"ghcr.io/acme/app:v2.20.0"}},
		// a parent overriding its subchart's repository: neither value is
		// the whole reference, so neither is pinned; the library subchart's
		// helper renders the parent's own image, which is
		{chart: "umbrella", pinned: []string{"nginx:1.27"}, left: []string{"quay.io/other/haproxy:2.0.4"}},
		// required values set by ci/ alone; a random password in a template
		{chart: "required", values: []string{"ci/redis-values.yaml"}, pinned: []string{"redis:7.2", "busybox:1.36"}},
		// a chart that drops the tag once a digest is set
		{chart: "tagless", pinned: []string{"quay.io/prometheus/node-exporter:v1.9.1"}},
		// an image only a values set the chart ships turns on (one that
		// names no image itself) is pinned and proved with it
		{chart: "switched", values: []string{"ci/metrics-values.yaml"}, pinned: []string{"nginx:1.27", "quay.io/prometheus/node-exporter:v1.9.1"}},
		// a tag that follows the cluster's Kubernetes version is refused,
		// not pinned at Helm's default version
		{chart: "kubectl", pinned: []string{"nginx:1.27"}},
		// the same in a Job only a ci/ values file turns on (velero)
		{chart: "cleanup", values: []string{"ci/test-values.yaml"}, pinned: []string{"nginx:1.27"}},
		// an image under a key no rule knows is found by its form, and
		// pinned where it renders as one; what only reads like an image
		// (data in a ConfigMap) is not, and is not reported
		{chart: "loose", pinned: []string{"hashicorp/consul-k8s:1.5.0"}},
		// a value that reads like an image, which the template takes
		// apart: with it marked the chart fails, so it is let go, and the
		// chart is judged without it
		{chart: "fussy", pinned: []string{"nginx:1.27"}},
		// a comment that hashes an image (JupyterHub's image puller)
		// changes with the pin: a comment deploys nothing
		{chart: "commented", pinned: []string{"quay.io/jupyterhub/k8s-hub:4.1.0"}},
		// an image passed inside an argument is no image field: never
		// resolved at a "host" named --prometheus-config-reloader=quay.io
		{chart: "reloader", pinned: []string{"quay.io/prometheus-operator/prometheus-operator:v0.93.1"},
			left: []string{"--prometheus-config-reloader=quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1"}},
		// a repository the templates make from a registry, a namespace and
		// the image's name (cert-manager), in a template that runs a
		// document marker into a comment
		{chart: "named", pinned: []string{"quay.io/jetstack/cert-manager-controller:v1.19.0"}},
		// an image's name and tag with its digest apart, the registry a
		// global's (ingress-nginx)
		{chart: "ingress", pinned: []string{"registry.k8s.io/ingress-nginx/controller:v1.15.1"}},
		// tags written null and ~, which follow appVersion (loki-canary)
		{chart: "canary", pinned: []string{"docker.io/grafana/loki-canary:2.9.1", "docker.io/grafana/promtail:2.9.1"}},
		// an image map whose parts the templates supply, repository
		// included (traefik), and a repository: null beside a tag
		{chart: "templated", pinned: []string{"docker.io/traefik:v3.7.11", "busybox:1.36"}},
		// components whose empty repository defaults to a global's
		// (argo-events): the global is pinned, not each component
		{chart: "globals", pinned: []string{"quay.io/argoproj/argo-events:v1.9.10", "quay.io/argoproj/argo-events:v1.9.10"}},
		// empty tags that default to one value for all the images, not
		// to appVersion (strimzi): left, where a tag written would
		// override that value; an image's own tag is pinned
		{chart: "defaulted", pinned: []string{"quay.io/strimzi/kafka-bridge:1.1.0"}},
		// a tag under a key no rule knows (release), equal to appVersion
		// (gatekeeper): the tag key pinbot adds renders nothing, so the
		// value is left, and the chart's other value pinned; so is a
		// repository: null whose marker takes a branch the value does not
		{chart: "released", pinned: []string{"busybox:1.36"}},
		// a template that reads the tag as a version (kong): with a digest
		// the chart no longer renders; that value alone is refused
		{chart: "semver", pinned: []string{"busybox:1.36"}, left: []string{"kong:3.9"}},
		// a version label made from the tag and cut short (argo-cd): the
		// cut digest still names the value, refused alone
		{chart: "versionlabel", pinned: []string{"ghcr.io/dexidp/dex:v2.45.1"}, left: []string{"quay.io/argoproj/argocd:v3.4.4"}},
		// deliberately unprovable: the tag is in a label too; that value
		// is refused alone, and the chart's other value keeps its pin
		{chart: "unprovable", pinned: []string{"busybox:1.36"}, left: []string{"grafana/grafana:11.2.0"}},
	}
	before, twice := make([]string, len(cases)), make([]string, len(cases))
	unprovable, _ := os.ReadFile(filepath.Join(root, "unprovable", "values.yaml"))
	for i, c := range cases {
		before[i] = helmTemplate(t, filepath.Join(root, c.chart), c.values...)
		twice[i] = helmTemplate(t, filepath.Join(root, c.chart), c.values...)
	}

	co, err := checkout.Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	out, err := Run(context.Background(), co, anyResolver{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range out.Changes {
		if err := co.WriteFile(ch.Path, ch.Old, ch.New); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range out.Report.Entries {
		t.Logf("%s:%d %s %s %s %s%s", e.File, e.Line, e.Kind, e.Ref, e.Status, e.Reason, e.Error)
	}

	// The unprovable value is as it was, and its pin failed, saying why;
	// the chart's other value is pinned.
	data, _ := os.ReadFile(filepath.Join(root, "unprovable", "values.yaml"))
	if !strings.Contains(string(data), "  tag: \"11.2.0\"\n") || !regexp.MustCompile(`  tag: "1\.36@sha256:[0-9a-f]{64}"`).Match(data) ||
		len(data) != len(unprovable)+len("@sha256:")+64 {
		t.Errorf("the unprovable value was written, or its neighbour was not:\n%s", data)
	}
	failed := false
	for _, e := range out.Report.Entries {
		if e.File == "unprovable/values.yaml" && strings.Contains(e.Ref, "grafana") {
			failed = e.Status == report.Failed && strings.Contains(e.Error, "the chart's render does not prove the edits") &&
				strings.Contains(e.Error, "app.kubernetes.io/version")
			if !failed {
				t.Errorf("the unprovable chart: %s %s %s", e.Status, e.Error, e.Reason)
			}
		}
	}
	if !failed {
		t.Error("the unprovable chart's value is not in the report")
	}
	reasonOf := func(file string) string {
		for _, e := range out.Report.Entries {
			if e.File == file {
				return string(e.Status) + ": " + e.Reason
			}
		}
		return "(no entry)"
	}
	for file, want := range map[string]string{
		"umbrella/charts/redis-ha/values.yaml": "skipped: " + ReasonNotRendered,
		"umbrella/values.yaml":                 "skipped: " + rewrite.ReasonNoAppVersion,
		"required/values.yaml":                 "skipped: " + rewrite.ReasonNoRepository,
	} {
		if got := reasonOf(file); got != want {
			t.Errorf("%s: %s, want %s", file, got, want)
		}
	}
	for _, e := range out.Report.Entries {
		if strings.Contains(e.Ref, "acme/docs") || strings.Contains(e.Ref, "acme/parser") {
			t.Errorf("a value that only reads like an image is reported: %s %s %s", e.Ref, e.Status, e.Reason)
		}
	}
	// values left or refused, each by its file and its reference as the
	// report names it: the status and the words of the reason
	for _, c := range []struct {
		file, ref string
		status    report.Status
		why       string
	}{
		{"defaulted/values.yaml", "operator:0.1.0", report.Skipped, "its tag comes from another value than the chart's appVersion 0.1.0"},
		{"released/values.yaml", "openpolicyagent/gatekeeper:v3.24.0", report.Skipped, "a tag key added renders nothing"},
		{"released/values.yaml", "(preInstall.crdRepository.image)", report.Skipped, "an edit to this value does not change what the chart renders"},
		{"semver/values.yaml", "kong:3.9", report.Failed, "the chart no longer renders with values.yaml"},
		{"kubectl/values.yaml", "bitnami/kubectl:", report.Skipped, "follows the cluster: the chart renders bitnami/kubectl:"},
		{"cleanup/values.yaml", "registry.k8s.io/kubectl:", report.Skipped, "follows the cluster: the chart renders registry.k8s.io/kubectl:v"},
	} {
		found := false
		for _, e := range out.Report.Entries {
			if e.File != c.file || !strings.HasPrefix(e.Ref, c.ref) {
				continue
			}
			found = true
			if e.Status != c.status || !strings.Contains(e.Reason+e.Error, c.why) {
				t.Errorf("%s %s: %s %s%s, want %s: %s", c.file, e.Ref, e.Status, e.Reason, e.Error, c.status, c.why)
			}
		}
		if !found {
			t.Errorf("%s: no entry for %s", c.file, c.ref)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(root, "released", "values.yaml")); strings.Count(string(data), "sha256:") != 1 {
		t.Errorf("a tag key the chart does not read was written:\n%s", data)
	}
	for _, e := range out.Report.Entries {
		if e.File == "reloader/values.yaml" && strings.Contains(e.Ref, "config-reloader") &&
			(e.Status != report.Skipped || !strings.Contains(e.Reason, "inside a command, argument or environment string")) {
			t.Errorf("an image rendered inside an argument: %s %s%s", e.Status, e.Reason, e.Error)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(root, "metrics", "values.yaml")); !regexp.MustCompile(`\n  tag: "v0\.8\.0@sha256:[0-9a-f]{64}" # pinbot:appVersion=0\.8\.0\n`).Match(data) {
		t.Errorf("the tag appVersion gives is not written with its digest and mark:\n%s", data)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "canary", "values.yaml")); !regexp.MustCompile(`\n  tag: "2\.9\.1@sha256:[0-9a-f]{64}" # pinbot:appVersion=2\.9\.1\n(.*\n)+    tag: "2\.9\.1@sha256:[0-9a-f]{64}" # pinbot:appVersion=2\.9\.1\n`).Match(data) {
		t.Errorf("a null tag that follows appVersion is not written with its digest and mark:\n%s", data)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "templated", "values.yaml")); !regexp.MustCompile(`\n  repository:  # @schema type:\[string, null\]\n.*\n  tag: "v3\.7\.11@sha256:[0-9a-f]{64}"  # @schema type:\[string, null\] # pinbot:appVersion=v3\.7\.11\n(.*\n)+    repository: null\n    tag: "1\.36@sha256:[0-9a-f]{64}"\n`).Match(data) {
		t.Errorf("an image map whose repository the templates supply is not pinned in its tag alone:\n%s", data)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "globals", "values.yaml")); !regexp.MustCompile(`^global:\n  image:\n    repository: quay\.io/argoproj/argo-events\n    tag: "v1\.9\.10@sha256:[0-9a-f]{64}" # pinbot:appVersion=v1\.9\.10\n`).Match(data) ||
		strings.Count(string(data), `tag: ""`) != 2 {
		t.Errorf("a global image is not pinned in its own tag alone:\n%s", data)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "decorated", "values.yaml")); !regexp.MustCompile(`sha: "[0-9a-f]{64}"`).Match(data) {
		t.Errorf("the decorated digest key did not get bare hex:\n%s", data)
	}

	for i, c := range cases {
		t.Run(strings.Join(append([]string{c.chart}, c.values...), "+"), func(t *testing.T) {
			after := helmTemplate(t, filepath.Join(root, c.chart), c.values...)
			got := checkRendered(t, before[i], twice[i], after)
			sort.Strings(got)
			sort.Strings(c.pinned)
			if strings.Join(got, " ") != strings.Join(c.pinned, " ") {
				t.Errorf("pinned in the rendered chart:\n  %v\nwant\n  %v\n%s", got, c.pinned, after)
			}
			for _, l := range c.left {
				if !strings.Contains(after, l+"\n") && !strings.Contains(after, l+"\"") {
					t.Errorf("%s is no longer rendered as it was", l)
				}
			}
		})
	}

	// A second run changes nothing, and the report says why what was left
	// alone was left alone.
	again, err := Run(context.Background(), co, anyResolver{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Changes) != 0 {
		t.Errorf("a second run changes %s:\n%s", again.Changes[0].Path, again.Changes[0].New)
	}
	reasons := map[string]string{}
	for _, e := range again.Report.Entries {
		if e.Status == report.Skipped {
			reasons[e.File] += e.Reason + ";"
		}
	}
	for file, want := range map[string]string{
		"collector/values.yaml": rewrite.ReasonNoRepository,
	} {
		if !strings.Contains(reasons[file], want) {
			t.Errorf("%s: skipped for %q, want %q", file, reasons[file], want)
		}
	}
}

// A tag pinned from appVersion moves when appVersion does: the next run
// writes the tag the new appVersion gives, its digest and the new mark,
// proved by rendering; until then the run has work to do (a gate fails).
func TestAppVersionTagsMove(t *testing.T) {
	root := t.TempDir()
	copyTree(t, "testdata/charts/metrics", filepath.Join(root, "metrics"))
	co, err := checkout.Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	pinAll := func() *Result {
		out, err := Run(context.Background(), co, anyResolver{}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range out.Changes {
			if err := co.WriteFile(ch.Path, ch.Old, ch.New); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	pinAll()
	chart := filepath.Join(root, "metrics", "Chart.yaml")
	data, _ := os.ReadFile(chart)
	os.WriteFile(chart, []byte(strings.Replace(string(data), "appVersion: 0.8.0", "appVersion: 0.8.1", 1)), 0o644)
	out := pinAll()
	tag, _ := name.NewTag("registry.k8s.io/metrics-server/metrics-server:v0.8.1")
	values, _ := os.ReadFile(filepath.Join(root, "metrics", "values.yaml"))
	if want := "\n  tag: \"v0.8.1@" + digestOf(tag.Name()) + "\" # pinbot:appVersion=0.8.1\n"; !strings.Contains(string(values), want) {
		t.Errorf("the tag did not move with appVersion: want %q in\n%s", want, values)
	}
	moved := false
	for _, e := range out.Report.Entries {
		if e.File == "metrics/values.yaml" && strings.Contains(e.Ref, "metrics-server") {
			moved = e.Status == report.Updated && e.Tag == "v0.8.1" && strings.Contains(e.Note, "appVersion moved")
			if !moved {
				t.Errorf("the move: %s %s %s %s%s", e.Status, e.Tag, e.Note, e.Reason, e.Error)
			}
		}
	}
	if !moved {
		t.Error("the move is not in the report")
	}
	if rendered := helmTemplate(t, filepath.Join(root, "metrics")); !strings.Contains(rendered, "image: registry.k8s.io/metrics-server/metrics-server:v0.8.1@"+digestOf(tag.Name())) {
		t.Errorf("the chart does not render the moved tag:\n%s", rendered)
	}
	if again := pinAll(); len(again.Changes) != 0 {
		t.Errorf("a third run changes %s", again.Changes[0].Path)
	}
}

// skipNames filters out files by name.
type skipNames []string

func (s skipNames) File(rel string) bool    { return !slices.Contains(s, path.Base(rel)) }
func (skipNames) Dir(string) bool           { return true }
func (skipNames) Ignored(imageref.Ref) bool { return false }
func (skipNames) IgnoredChart(string) bool  { return false }

// TestValuesFindTheirChart: a values file is read as its chart's, which
// lives in the directories above it, when the file is named alone (the
// walk never read those directories) and when the chart's Chart.yaml is
// filtered out of the scan (the walk saw it all the same).
func TestValuesFindTheirChart(t *testing.T) {
	const values = "collector/ci/deployment-values.yaml"
	for _, opts := range []Options{
		{Paths: []string{values}},
		{Paths: []string{"collector"}, Filter: skipNames{"Chart.yaml"}},
	} {
		root := t.TempDir()
		copyTree(t, "testdata/charts", root)
		co, err := checkout.Open(root, false)
		if err != nil {
			t.Fatal(err)
		}
		defer co.Close()
		out, err := Run(context.Background(), co, anyResolver{}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if opts.Paths[0] == values && out.Report.Files != 1 {
			t.Errorf("the values named alone: %d files scanned", out.Report.Files)
		}
		var changed *Change
		for i, c := range out.Changes {
			if c.Path == values {
				changed = &out.Changes[i]
			}
		}
		if changed == nil {
			t.Fatalf("%v: the values were not pinned (%d changes in %d files scanned)", opts.Paths, len(out.Changes), out.Report.Files)
		}
		tag, _ := name.NewTag("ghcr.io/open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-k8s:0.158.0")
		if want := "\n  digest: " + digestOf(tag.Name()) + "\n"; !strings.Contains(string(changed.New), want) {
			t.Errorf("%v: the digest key the templates read was not added with the appVersion's digest:\n%s", opts.Paths, changed.New)
		}
	}
}

// An image a chart renders from no value pinbot can edit (a packaged
// subchart's charts/*.tgz) is never silently dropped: the chart's report
// names it, left as it is, and why.
func TestUnownedImagesAreNamed(t *testing.T) {
	root := t.TempDir()
	write := func(p, data string) { writeFile(t, root, p, data) }
	write("app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: sub\n  version: 1.0.0\n")
	write("app/values.yaml", "image:\n  repository: nginx\n  tag: \"1.27\"\n")
	write("app/templates/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: a\n    image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n")
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, data := range map[string]string{
		"sub/Chart.yaml":         "apiVersion: v2\nname: sub\nversion: 1.0.0\n",
		"sub/values.yaml":        "image:\n  repository: quay.io/acme/sub\n  tag: v2\n",
		"sub/templates/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: s}\nspec:\n  containers:\n  - name: s\n    image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n",
	} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write([]byte(data))
	}
	tw.Close()
	gz.Close()
	write("app/charts/sub-1.0.0.tgz", buf.String())
	out := runAll(t, root)
	if len(out.Report.Charts) != 1 {
		t.Fatalf("charts: %+v", out.Report.Charts)
	}
	c := out.Report.Charts[0]
	if len(c.Unowned) != 1 || c.Unowned[0].Ref != "quay.io/acme/sub:v2" || !strings.Contains(c.Unowned[0].Reason, "packaged subchart charts/sub-1.0.0.tgz") {
		t.Errorf("the packaged subchart's image: %+v", c.Unowned)
	}
	if c.Images != 2 || c.Pinned != 1 || c.Left != 1 {
		t.Errorf("counts: %d images, %d pinned, %d left; want 2, 1, 1", c.Images, c.Pinned, c.Left)
	}
}

// A chart is judged under the configuration that deploys it: an Argo CD
// Application (its valueFiles and parameters) and a Flux HelmRelease (its
// values) of the checkout whose source is the chart's directory each make
// one more values set, and the images only they turn on are pinned and
// proved with them.
func TestChartsAreJudgedAsDeployed(t *testing.T) {
	root := t.TempDir()
	copyTree(t, "testdata/deployed", root)
	out := runAll(t, root)
	status := map[string]report.Status{}
	for _, e := range out.Report.Entries {
		if e.File == "charts/deployed/values.yaml" {
			status[e.Image] = e.Status
		}
	}
	for _, image := range []string{"nginx", "quay.io/prometheus/node-exporter", "redis"} {
		if status[image] != report.Pinned {
			t.Errorf("%s: %q, want pinned (%v)", image, status[image], out.Report.Entries)
		}
	}
	if len(out.Report.Charts) != 1 {
		t.Fatalf("charts: %+v", out.Report.Charts)
	}
	sets := strings.Join(out.Report.Charts[0].Sets, "; ")
	for _, want := range []string{"values.yaml with the values of Application deploy/apps.yaml:1", "values.yaml with the values of HelmRelease deploy/apps.yaml:15"} {
		if !strings.Contains(sets, want) {
			t.Errorf("sets %q lack %q", sets, want)
		}
	}
}

// A GitOps resource whose file also names an image of its own, in a run
// that writes each file as its tags answer, still deploys its chart with
// its values (that its bytes stay once written early is
// TestSoonSettlesFilesStillCurrent's).
func TestChartsAreJudgedAsDeployedWhenTheirFileIsWrittenEarly(t *testing.T) {
	root := t.TempDir()
	copyTree(t, "testdata/deployed", root)
	apps, err := os.ReadFile(filepath.Join(root, "deploy/apps.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "deploy/apps.yaml", string(apps)+"---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: a\n    image: example.com/plain:1.0\n")
	co, err := checkout.Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	var mu sync.Mutex
	var order []string
	sr := &streamResolver{asked: map[string]int{}, got: make(chan string, 1000)}
	out, err := Run(context.Background(), co, sr, Options{Sink: func(c Change) error {
		mu.Lock()
		order = append(order, c.Path)
		mu.Unlock()
		return co.WriteFile(c.Path, c.Old, c.New)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(order) == 0 || order[0] != "deploy/apps.yaml" {
		t.Errorf("written in the order %v; want deploy/apps.yaml first, as its tag answered", order)
	}
	status := map[string]report.Status{}
	for _, e := range out.Report.Entries {
		status[e.Image] = e.Status
	}
	for _, image := range []string{"nginx", "quay.io/prometheus/node-exporter", "redis", "example.com/plain"} {
		if status[image] != report.Pinned {
			t.Errorf("%s: %q, want pinned (%v)", image, status[image], out.Report.Entries)
		}
	}
}

// A subchart its parent turns off, by the condition or the tags Chart.yaml
// gives it, is judged with them on: its image is pinned and proved.
func TestSubchartSwitchesFromChartYAML(t *testing.T) {
	root := t.TempDir()
	write := func(p, data string) { writeFile(t, root, p, data) }
	write("app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n"+
		"- {name: cache, version: 1.0.0, condition: cache.deploy}\n- {name: queue, version: 1.0.0, tags: [messaging]}\n")
	write("app/values.yaml", "image: {repository: nginx, tag: \"1.27\"}\ncache: {deploy: false}\ntags: {messaging: false}\n")
	write("app/templates/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: a\n    image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n")
	for _, sub := range []string{"cache", "queue"} {
		image := map[string]string{"cache": "redis", "queue": "nats"}[sub]
		write("app/charts/"+sub+"/Chart.yaml", "apiVersion: v2\nname: "+sub+"\nversion: 1.0.0\n")
		write("app/charts/"+sub+"/values.yaml", "image: {repository: "+image+", tag: \"2\"}\n")
		write("app/charts/"+sub+"/templates/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: "+sub+"}\nspec:\n  containers:\n  - name: s\n    image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n")
	}
	out := runAll(t, root)
	for _, e := range out.Report.Entries {
		if strings.HasSuffix(e.File, "/values.yaml") && e.Status != report.Pinned {
			t.Errorf("%s: %s %s%s", e.Ref, e.Status, e.Reason, e.Error)
		}
	}
	if len(out.Report.Charts) != 1 || !strings.Contains(strings.Join(out.Report.Charts[0].Sets, ";"), "cache.deploy, tags.messaging on") {
		t.Errorf("sets: %+v", out.Report.Charts)
	}
}

// writeFile writes data to p under root, making its directories.
func writeFile(t *testing.T, root, p, data string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
	if err := os.WriteFile(filepath.Join(root, p), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runAll runs the pipeline over the checkout at root, every tag answered.
func runAll(t *testing.T, root string) *Result {
	t.Helper()
	co, err := checkout.Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	out, err := Run(context.Background(), co, anyResolver{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
