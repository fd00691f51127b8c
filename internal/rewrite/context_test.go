package rewrite

import (
	"os"
	"testing"
)

func fakeTree(files map[string]string) (*Context, []string) {
	var list []string
	for f := range files {
		list = append(list, f)
	}
	return NewContext(list, func(p string) ([]byte, error) {
		if d, ok := files[p]; ok {
			return []byte(d), nil
		}
		return nil, os.ErrNotExist
	}), list
}

// TestContextDetect: a chart's values and templates, and GitLab CI's local
// includes, are told by what the checkout holds, not by their names alone.
func TestContextDetect(t *testing.T) {
	cx, _ := fakeTree(map[string]string{
		"charts/app/Chart.yaml":                        "apiVersion: v2\nname: app\nappVersion: 1.2.3\n",
		"charts/app/values.yaml":                       "",
		"charts/app/values-prod.yaml":                  "",
		"charts/app/ci/tls-values.yaml":                "",
		"charts/app/templates/deployment.yaml":         "image: {{ .Values.image.repository }}@{{ .Values.image.digest }}\n",
		"charts/app/templates/_helpers.tpl":            "{{ .Values.sidecar.image.sha }}",
		"charts/app/charts/redis/Chart.yaml":           "apiVersion: v2\nname: redis-ha\n",
		"charts/app/charts/redis/values.yaml":          "",
		"charts/app/charts/redis/templates/redis.yaml": "{{ .Values.image.digest }}",
		"deploy/values.yaml":                           "",
		"templates/x.yaml":                             "",
		".gitlab-ci.yml":                               "include:\n  - local: ci/build.yml\n  - 'ci/test.yml'\n  - remote: https://example.com/x.yml\n  - project: a/b\n    file: c.yml\n",
		"ci/build.yml":                                 "",
		"ci/test.yml":                                  "",
		"ci/other.yml":                                 "",
		".devcontainer/devcontainer.json":              "",
		".devcontainer/go/devcontainer.json":           "",
		"devcontainer.json":                            "",
	})
	for p, want := range map[string]Format{
		"charts/app/values.yaml":                       FormatHelmValues,
		"charts/app/values-prod.yaml":                  FormatHelmValues,
		"charts/app/ci/tls-values.yaml":                FormatHelmValues,
		"charts/app/templates/deployment.yaml":         FormatHelmTemplate,
		"charts/app/templates/_helpers.tpl":            FormatHelmTemplate,
		"charts/app/charts/redis/values.yaml":          FormatHelmValues,
		"charts/app/charts/redis/templates/redis.yaml": FormatHelmTemplate,
		"charts/app/Chart.yaml":                        FormatManifest,
		"deploy/values.yaml":                           FormatManifest,
		"templates/x.yaml":                             FormatManifest,
		".gitlab-ci.yml":                               FormatGitLab,
		"ci/build.yml":                                 FormatGitLab,
		"ci/test.yml":                                  FormatGitLab,
		"ci/other.yml":                                 FormatManifest,
		".devcontainer/devcontainer.json":              FormatDevcontainer,
		".devcontainer/go/devcontainer.json":           FormatDevcontainer,
		"devcontainer.json":                            FormatManifestJSON, // by name; its bytes decide
	} {
		if got := cx.Detect(p); got != want {
			t.Errorf("Detect(%q) = %v, want %v", p, got, want)
		}
	}
	app := cx.charts["charts/app"]
	if app == nil || app.AppVersion != "1.2.3" {
		t.Fatalf("chart: %+v", app)
	}
	for path, want := range map[string]bool{"image": true, "sidecar.image": true, "redis-ha.image": true, "redis.image": true, "other.image": false} {
		if got := app.readsDigest(splitPath(path)); got != want {
			t.Errorf("readsDigest(%s) = %v, want %v", path, got, want)
		}
	}
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '.' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return out
}
