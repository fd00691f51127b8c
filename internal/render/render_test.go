package render

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// readChart reads a chart directory from disk.
func readChart(t testing.TB, dir string) Files {
	t.Helper()
	files := Files{}
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
	return files
}

// TestRenderAsHelmTemplate: a chart with a subchart disabled by its
// condition, a .helmignore, values from a file on top, and a template
// that fails on a missing required value.
func TestRenderAsHelmTemplate(t *testing.T) {
	files := Files{
		"Chart.yaml":  []byte("apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: sub\n  version: 1.0.0\n  condition: sub.enabled\n"),
		"values.yaml": []byte("image: {repository: nginx, tag: \"1.27\"}\nsub: {enabled: false}\n"),
		".helmignore": []byte("*.bak\n"),
		"templates/pod.yaml": []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: {{ .Release.Name }}}\nspec:\n  containers:\n  - name: a\n    image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n" +
			"    env: [{name: X, value: {{ required \"x is required\" .Values.x | quote }}}]\n"),
		"templates/broken.bak":         []byte("{{ this does not parse"),
		"templates/NOTES.txt":          []byte("installed {{ .Release.Name }}"),
		"charts/sub/Chart.yaml":        []byte("apiVersion: v2\nname: sub\nversion: 1.0.0\n"),
		"charts/sub/templates/cm.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sub}\n"),
	}
	if _, err := Render(context.Background(), files, nil); err == nil || !strings.Contains(err.Error(), "x is required") {
		t.Fatalf("err = %v, want the required value's message", err)
	}
	out, err := Render(context.Background(), files, []byte("x: set\nimage: {tag: \"1.28\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || !strings.Contains(out["app/templates/pod.yaml"], "metadata: {name: "+ReleaseName+"}") {
		t.Fatalf("rendered %v", out)
	}
	vals, err := Values(out)
	if err != nil {
		t.Fatal(err)
	}
	var images, env []string
	for _, v := range vals {
		if v.Image {
			images = append(images, v.Slot+"="+v.Text)
		}
		if strings.HasSuffix(v.Slot, ".value") {
			env = append(env, v.Text)
		}
	}
	if strings.Join(images, " ") != "app/templates/pod.yaml#0.spec.containers[0].image=nginx:1.28" || strings.Join(env, " ") != "set" {
		t.Errorf("images %v, env %v", images, env)
	}
	// a dependency that is not vendored: helm template refuses, and so does Render
	without := maps.Clone(files)
	delete(without, "charts/sub/Chart.yaml")
	delete(without, "charts/sub/templates/cm.yaml")
	if _, err := Render(context.Background(), without, []byte("x: set\n")); err == nil || !strings.Contains(err.Error(), "missing in charts/ directory: sub") {
		t.Errorf("a dependency not vendored: %v", err)
	}
	// the subchart on, by the values given
	out, err = Render(context.Background(), files, []byte("x: set\nsub: {enabled: true}\n"))
	if err != nil || out["app/charts/sub/templates/cm.yaml"] == "" {
		t.Errorf("the subchart enabled: %v %v", out, err)
	}
}

// BenchmarkRender renders the chart in $PINBOT_BENCH_CHART (or a small
// one of the tests), with values.yaml alone.
func BenchmarkRender(b *testing.B) {
	files, values := benchChart(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Render(context.Background(), files, values); err != nil {
			b.Fatal(err)
		}
	}
}

// A values.schema.json is checked as helm template checks it, in a sandbox:
// a $ref to another file of the chart is followed; one to a URL, or to a
// file elsewhere on the machine, is neither fetched nor read, and the
// render fails saying so (Helm's own validation GETs any URL a chart
// names, a cloud metadata address included, and reads any file).
func TestSchemaRefsStayInTheChart(t *testing.T) {
	var asked atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Write([]byte(`{"type": "object"}`))
	}))
	defer srv.Close()
	outside := filepath.Join(t.TempDir(), "schema.json")
	os.WriteFile(outside, []byte(`{"type": "object"}`), 0o644)
	chart := func(schema string) Files {
		return Files{
			"Chart.yaml":         []byte("apiVersion: v2\nname: app\nversion: 1.0.0\n"),
			"values.yaml":        []byte("image: {repository: nginx, tag: \"1.27\"}\n"),
			"values.schema.json": []byte(schema),
			"defs/image.json":    []byte(`{"type": "object", "properties": {"tag": {"type": "string", "pattern": "^1\\."}}}`),
			"templates/pod.yaml": []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: a\n    image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n"),
		}
	}
	for name, ref := range map[string]string{
		"http":          srv.URL + "/schema.json",
		"metadata":      "http://169.254.169.254/latest/meta-data/",
		"file outside":  "file://" + outside,
		"path outside":  "../../../../../../.." + outside,
		"urn":           "urn:example:schema",
		"another chart": "file:///../other/values.schema.json",
	} {
		_, err := Render(context.Background(), chart(`{"type": "object", "properties": {"image": {"$ref": "`+ref+`"}}}`), nil)
		if !errors.Is(err, ErrSchemaOutside) {
			t.Errorf("%s: err = %v, want the schema refused", name, err)
		}
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the schema's URL was fetched %d times", n)
	}
	// a $ref inside the chart is followed: it accepts 1.27, refuses 2.0
	local := chart(`{"type": "object", "properties": {"image": {"$ref": "defs/image.json"}}}`)
	if _, err := Render(context.Background(), local, nil); err != nil {
		t.Errorf("a schema whose $ref is in the chart: %v", err)
	}
	if _, err := Render(context.Background(), local, []byte("image: {tag: \"2.0\"}\n")); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Errorf("values the chart's own schema refuses rendered: %v", err)
	}
}

// BenchmarkSandboxRender is BenchmarkRender in a worker process: what the
// sandbox adds to a render.
func BenchmarkSandboxRender(b *testing.B) {
	files, values := benchChart(b)
	s, err := NewSandbox(1, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Render(context.Background(), files, values); err != nil { // the worker started
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Render(context.Background(), files, values); err != nil {
			b.Fatal(err)
		}
	}
}

// A schema compiled once is used again, and still refuses what it refuses.
func TestSchemaCompiledOnce(t *testing.T) {
	files := Files{
		"Chart.yaml":         []byte("apiVersion: v2\nname: app\nversion: 1.0.0\n"),
		"values.yaml":        []byte("replicas: 1\n"),
		"values.schema.json": []byte(`{"type": "object", "properties": {"replicas": {"type": "integer", "maximum": 3}}}`),
		"templates/cm.yaml":  []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {n: \"{{ .Values.replicas }}\"}\n"),
	}
	for range 2 {
		if _, err := Render(context.Background(), files, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := Render(context.Background(), files, []byte("replicas: 9\n")); err == nil || !strings.Contains(err.Error(), "schema") {
			t.Fatalf("values the schema refuses rendered: %v", err)
		}
	}
}

// benchChart is the chart the render benchmarks render: PINBOT_BENCH_CHART
// (default the test vault chart), with PINBOT_BENCH_VALUES on top.
func benchChart(b *testing.B) (Files, []byte) {
	dir := os.Getenv("PINBOT_BENCH_CHART")
	if dir == "" {
		dir = "../pin/testdata/charts/vault"
	}
	files := readChart(b, dir)
	var values []byte
	if v := os.Getenv("PINBOT_BENCH_VALUES"); v != "" {
		values = files[v]
	}
	return files, values
}

// A template whose output runs a document marker into the next line's text
// ("---# comment", "---apiVersion: v1") installs with Helm, which splits
// manifests at any line that begins "---": its values are read as Helm
// reads them, not refused as YAML that does not parse.
func TestValuesSplitAsHelmDoes(t *testing.T) {
	out := map[string]string{
		"c/templates/a.yaml": "\n---# Permission to approve\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: nginx:1.27\n---apiVersion: v1\nkind: ConfigMap\ndata: {k: v}\n---\n\n",
	}
	vals, err := Values(out)
	if err != nil {
		t.Fatal(err)
	}
	var images, data []string
	for _, v := range vals {
		if v.Image {
			images = append(images, v.Slot+"="+v.Text)
		}
		if v.Text == "v" {
			data = append(data, v.Slot)
		}
	}
	if strings.Join(images, " ") != "c/templates/a.yaml#0.spec.containers[0].image=nginx:1.27" || strings.Join(data, " ") != "c/templates/a.yaml#1.data.k" {
		t.Errorf("images %v, data %v", images, data)
	}
	if _, err := Values(map[string]string{"c/templates/b.yaml": "a: [\n"}); err == nil || !strings.Contains(err.Error(), "c/templates/b.yaml renders what is not YAML") {
		t.Errorf("not YAML: %v", err)
	}
}
