package built

import (
	"testing"

	"github.com/pinbot/pinbot/internal/imageref"
)

func TestLearn(t *testing.T) {
	files := map[string]string{
		"skaffold.yaml": "apiVersion: skaffold/v4beta6\nkind: Config\nbuild:\n  artifacts:\n  - image: emailservice\n    context: src/email\n" +
			"profiles:\n- name: gcb\n  build:\n    artifacts:\n    - image: gcr.io/acme/frontend\n---\napiVersion: v1\nkind: ConfigMap\nbuild: {artifacts: [{image: not-skaffold}]}\n",
		"deploy/compose.yaml": "services:\n  api:\n    build: ./api\n    image: acme/api:dev\n  db:\n    image: postgres:16\n  pg:\n    build: ./pg\n    image: bitnami/postgresql:16\n",
		".github/workflows/release.yml": "on: push\njobs:\n  image:\n    runs-on: ubuntu-latest\n    steps:\n    - uses: docker/build-push-action@v6\n      with:\n        push: true\n        tags: |\n          ghcr.io/acme/api:latest\n          ghcr.io/acme/api:${{ github.sha }}, ghcr.io/acme/cli:1\n" +
			"    - uses: docker/build-push-action@v6\n      with: {push: false, tags: ghcr.io/acme/local-only:1}\n",
		"Tiltfile":   "# docker_build('commented-out', '.')\ndocker_build('acme/worker', 'worker')\ncustom_build(\n  'acme/custom', 'make', ['src'])\n",
		"other.yaml": "build: {artifacts: [{image: not-a-build-file}]}\n",
	}
	var list []string
	for f := range files {
		list = append(list, f)
	}
	s := Learn(list, func(p string) ([]byte, error) { return []byte(files[p]), nil })
	for written, want := range map[string]string{
		"ghcr.io/acme/api:v2":            ".github/workflows/release.yml:10",
		"ghcr.io/acme/cli":               ".github/workflows/release.yml:11",
		"ghcr.io/acme/local-only:1":      "",
		"bitnami/postgresql:16":          "", // built by compose, asked of a manifest outside its project
		"emailservice":                   "skaffold.yaml:5",
		"docker.io/library/emailservice": "skaffold.yaml:5",
		"emailservice:v1":                "skaffold.yaml:5",
		"gcr.io/acme/frontend:abc":       "skaffold.yaml:11",
		"acme/api":                       "",
		"acme/worker:latest":             "Tiltfile:2",
		"acme/custom":                    "Tiltfile:4",
		"ko://github.com/acme/app/cmd":   "ko://",
		"postgres:16":                    "",
		"not-skaffold":                   "",
		"not-a-build-file":               "",
		"commented-out":                  "",
		"nginx":                          "",
	} {
		ref, _ := imageref.Parse(written)
		got, ok := s.Builds("k8s/deploy.yaml", written, ref)
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", written, got, ok, want)
		}
	}
}

// A compose build makes its name built only in its own compose project: a
// service built locally and tagged with an upstream name (postgres:16 for
// a dev loop) leaves the manifests' postgres:16 to be pinned.
func TestComposeBuildIsScopedToItsProject(t *testing.T) {
	files := map[string]string{
		"dev/compose.yaml":          "services:\n  db:\n    build: ./db\n    image: postgres:16\n",
		"dev/compose.override.yaml": "services:\n  db:\n    image: postgres:16\n",
		"other/compose.yaml":        "services:\n  db:\n    image: postgres:16\n",
	}
	var list []string
	for f := range files {
		list = append(list, f)
	}
	s := Learn(list, func(p string) ([]byte, error) { return []byte(files[p]), nil })
	ref, _ := imageref.Parse("postgres:16")
	for file, want := range map[string]string{
		"dev/compose.yaml":          "dev/compose.yaml:4",
		"dev/compose.override.yaml": "dev/compose.yaml:4",
		"dev/k8s.yaml":              "",
		"other/compose.yaml":        "",
		"k8s/postgres.yaml":         "",
		"Dockerfile":                "",
	} {
		if got, ok := s.Builds(file, "postgres:16", ref); got != want || ok != (want != "") {
			t.Errorf("postgres:16 in %s: %q %v, want %q", file, got, ok, want)
		}
	}
}
