package built

import (
	"testing"

	"github.com/pinbot/pinbot/internal/imageref"
)

func TestLearn(t *testing.T) {
	files := map[string]string{
		"skaffold.yaml": "apiVersion: skaffold/v4beta6\nkind: Config\nbuild:\n  artifacts:\n  - image: emailservice\n    context: src/email\n" +
			"profiles:\n- name: gcb\n  build:\n    artifacts:\n    - image: gcr.io/acme/frontend\n---\napiVersion: v1\nkind: ConfigMap\nbuild: {artifacts: [{image: not-skaffold}]}\n",
		"deploy/compose.yaml": "services:\n  api:\n    build: ./api\n    image: acme/api:dev\n  db:\n    image: postgres:16\n",
		"Tiltfile":            "# docker_build('commented-out', '.')\ndocker_build('acme/worker', 'worker')\ncustom_build(\n  'acme/custom', 'make', ['src'])\n",
		"other.yaml":          "build: {artifacts: [{image: not-a-build-file}]}\n",
	}
	var list []string
	for f := range files {
		list = append(list, f)
	}
	s := Learn(list, func(p string) ([]byte, error) { return []byte(files[p]), nil })
	for written, want := range map[string]string{
		"emailservice":                   "skaffold.yaml:5",
		"docker.io/library/emailservice": "skaffold.yaml:5",
		"emailservice:v1":                "skaffold.yaml:5",
		"gcr.io/acme/frontend:abc":       "skaffold.yaml:11",
		"acme/api":                       "deploy/compose.yaml:4",
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
		got, ok := s.Builds(written, ref)
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", written, got, ok, want)
		}
	}
}
