package config

import (
	"encoding/json"
	"errors"
	"os"
	"sort"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/pinbot/pinbot/internal/imageref"
)

func TestParse(t *testing.T) {
	c, err := Parse(".pinbot.yaml", []byte(`# settings
mirrors:
  docker.io: harbor.example.com/dockerhub-proxy
  quay.io: mirror.example.com/quay
insecureRegistries: [registry.local:5000]
pullPolicy: Always
include: ["deploy/**"]
exclude: ["**/testdata/**"]
ignore:
  - postgres
  - ghcr.io/acme/*
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.MirrorList(), ","); got != "docker.io=harbor.example.com/dockerhub-proxy,quay.io=mirror.example.com/quay" {
		t.Errorf("mirrors %s", got)
	}
	if c.PullPolicy != "Always" || len(c.InsecureRegistries) != 1 || c.Include[0] != "deploy/**" || len(c.Ignore) != 2 {
		t.Errorf("parsed %+v", c)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "# nothing yet\n", "---\n"} {
		if _, err := Parse("c", []byte(in)); err != nil {
			t.Errorf("Parse(%q): %v", in, err)
		}
	}
}

func TestParseErrorsNameFileLineAndKey(t *testing.T) {
	for in, want := range map[string]string{
		"pullPolicy: Always\nmirror:\n  docker.io: x\n": `.pinbot.yaml:2: unknown key "mirror"`,
		"pullPolicy: Sometimes\n":                       ".pinbot.yaml:1: pullPolicy:",
		"include: deploy\n":                             ".pinbot.yaml:1: include: want a list",
		"ignore: postgres\n":                            `.pinbot.yaml:1: ignore: want a list (- item, or [a, b]), not the string "postgres"`,
		"pullPolicy: Always\n\tignore: [a]\n":           ".pinbot.yaml:2: ignore: a tab in the indentation",
		"ignore:\n\t- a\n":                              ".pinbot.yaml:2: ignore: a tab in the indentation",
		"include:\n- a\nexclude: [x, y\n":               ".pinbot.yaml:3: exclude: did not find expected ',' or ']'",
		"include: [a]\nignore: [a,\n  b, {c: d}]\n":     ".pinbot.yaml:3: ignore: want a non-empty string",
		"maxFileSize: lots\n":                           ".pinbot.yaml:1: maxFileSize: size \"lots\"",
		"pullPolicy: Always\npullPolicy: keep\n":        ".pinbot.yaml:2: pullPolicy: already set at line 1",
		"exclude: ['[']\n":                              `.pinbot.yaml:1: exclude: "[" is not a valid glob`,
		"mirrors:\n  docker.io: ''\n":                   ".pinbot.yaml:2: mirrors:",
		"- a\n- b\n":                                    ".pinbot.yaml:1: want a mapping",
		"mirrors: {a: b\n":                              ".pinbot.yaml:1: mirrors: did not find expected ',' or '}'",
		"signatures: enforce\n":                         ".pinbot.yaml:1: signatures: want a mapping of mode, trustedRoot and rules",
		"signatures:\n  mode: strict\n":                 `.pinbot.yaml:2: signatures: signature mode "strict": want off, audit or enforce`,
		"signatures:\n  rules:\n  - images: [a]\n    keyles: {issuer: i, subject: s}\n":                                        `.pinbot.yaml:4: signatures: unknown key "keyles" in rules`,
		"signatures:\n  rules:\n  - images: [a]\n    key: a.pub\n  - images: [b]\n    keyless: {issuer: i, subjectRegex: s}\n": `.pinbot.yaml:6: signatures: unknown key "subjectRegex" in keyless`,
		"signatures:\n  rules:\n  - images: [a]\n    key: a.pub\n  - images: [b]\n":                                            ".pinbot.yaml:5: signatures: rule 2: want keyless",
		"signatures:\n  rules:\n  - images: [a]\n    key: a.pub\n    tlog: maybe\n":                                            ".pinbot.yaml:5: signatures:",
	} {
		_, err := Parse(".pinbot.yaml", []byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestMatcherFiles(t *testing.T) {
	m, err := NewMatcher([]string{"deploy/**", "Dockerfile"}, []string{"**/testdata/**", "deploy/legacy/**"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"deploy/app.yaml":             true,
		"deploy/base/x.yaml":          true,
		"Dockerfile":                  true,
		"docs/example.yaml":           false,
		"deploy/testdata/broken.yaml": false,
		"deploy/legacy/old.yaml":      false,
	} {
		if got := m.File(p); got != want {
			t.Errorf("File(%q) = %v, want %v", p, got, want)
		}
	}
	if m.Dir("deploy/legacy") || !m.Dir("deploy") || m.Dir("a/testdata") {
		t.Error("Dir pruning is wrong")
	}
}

func TestMatcherIgnored(t *testing.T) {
	m, err := NewMatcher(nil, nil, []string{"postgres", "ghcr.io/acme/*", "docker.io/library/redis:7", "quay.io/**"})
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]bool{
		"postgres:16":                true,
		"docker.io/library/postgres": true,
		"index.docker.io/library/postgres:16@sha256:" + strings.Repeat("a", 64): true,
		"ghcr.io/acme/api:v1":             true,
		"ghcr.io/acme/team/api:v1":        false,
		"redis:7":                         true,
		"redis:6":                         false,
		"quay.io/prometheus/prometheus:1": true,
		"nginx:1.25":                      false,
	} {
		r, err := imageref.Parse(ref)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Ignored(r); got != want {
			t.Errorf("Ignored(%s) = %v, want %v", ref, got, want)
		}
	}
}

// FuzzParse: whatever the bytes, Parse returns a configuration or an *Error
// naming the file (and, when it names a line, one the input has).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"pullPolicy: Always\nignore: [postgres]\n", "mirrors:\n  docker.io: harbor.example.com/hub\n",
		"include:\n- deploy/**\nexclude: ['**/testdata/**']\nmaxFileSize: 8MiB\n", "ignore: postgres\n",
		"ignore:\n\t- a\n", "mirrors: {a: b\n", "- a\n", "a: &x [*x]\n", "insecureRegistries: [localhost:5000]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(".pinbot.yaml", data)
		if err == nil {
			if c == nil {
				t.Fatal("no configuration and no error")
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.File != ".pinbot.yaml" {
			t.Fatalf("error %v (%T) does not name the file", err, err)
		}
		text := strings.ReplaceAll(decodeYAMLText(data), "\r\n", "\n")
		lines := strings.Count(text, "\n") + strings.Count(text, "\r") + strings.Count(text, "\u0085") +
			strings.Count(text, "\u2028") + strings.Count(text, "\u2029") + 1
		if e.Line < 0 || e.Line > lines {
			t.Fatalf("error %v names line %d of %d", err, e.Line, lines)
		}
	})
}

// decodeYAMLText is data as YAML reads it: UTF-16 when it starts with a
// UTF-16 byte order mark, else UTF-8.
func decodeYAMLText(data []byte) string {
	if len(data) < 2 || !(data[0] == 0xFE && data[1] == 0xFF || data[0] == 0xFF && data[1] == 0xFE) {
		return string(data)
	}
	big := data[0] == 0xFE
	var units []uint16
	for i := 2; i+1 < len(data); i += 2 {
		if big {
			units = append(units, uint16(data[i])<<8|uint16(data[i+1]))
		} else {
			units = append(units, uint16(data[i+1])<<8|uint16(data[i]))
		}
	}
	return string(utf16.Decode(units))
}

// TestSchemaNamesEveryKey: pinbot.schema.json, which editors use to complete
// and check .pinbot.yaml, has a property for every key Parse reads and no
// other, and the pull policies Parse takes.
func TestSchemaNamesEveryKey(t *testing.T) {
	data, err := os.ReadFile("../../pinbot.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		AdditionalProperties bool `json:"additionalProperties"`
		Properties           map[string]struct {
			Enum []string `json:"enum"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatalf("pinbot.schema.json: %v", err)
	}
	var got []string
	for k := range schema.Properties {
		got = append(got, k)
	}
	want := append([]string(nil), keys...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") || schema.AdditionalProperties {
		t.Errorf("schema properties %v (additional %v), want %v and no others", got, schema.AdditionalProperties, want)
	}
	if enum := schema.Properties["pullPolicy"].Enum; strings.Join(enum, " ") != strings.Join(PullPolicies, " ") {
		t.Errorf("the schema's pull policies %v, Parse's %v", enum, PullPolicies)
	}
	for _, p := range PullPolicies {
		if _, err := Parse("x.yaml", []byte("pullPolicy: "+p)); err != nil {
			t.Errorf("Parse refuses pullPolicy %q: %v", p, err)
		}
	}
}

// A path named on the command line is left out only when no file under it
// can be selected: include globs that may reach under it keep it.
func TestExcludes(t *testing.T) {
	m, err := NewMatcher([]string{"Dockerfile", ".github/workflows/**", "deploy/*/values.yaml", "**/compose.yaml"}, []string{"vendor/**"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		dir  bool
		want string
	}{
		{".", true, ""},
		{"examples/quickstart/repo", true, ""}, // **/compose.yaml may match there
		{"deploy", true, ""},
		{"deploy/app", true, ""},
		{".github", true, ""},
		{"vendor", true, "exclude"},
		{"vendor/x", true, "exclude"},
		{"Dockerfile", false, ""},
		{"app/Dockerfile", false, "include"},
		{"deploy/app/values.yaml", false, ""},
		{"vendor/compose.yaml", false, "exclude"},
	} {
		if got, _ := m.Excludes(c.path, c.dir); got != c.want {
			t.Errorf("Excludes(%q) = %q, want %q", c.path, got, c.want)
		}
	}
	m, _ = NewMatcher([]string{"Dockerfile", ".github/workflows/**"}, nil, nil)
	if got, globs := m.Excludes("examples/quickstart/repo", true); got != "include" || len(globs) != 2 {
		t.Errorf("a directory no include glob reaches: %q %v", got, globs)
	}
}

// A signature policy is read whole: mode, trusted root, and rules of each
// kind.
func TestParseSignatures(t *testing.T) {
	c, err := Parse("c", []byte(`signatures:
  mode: enforce
  trustedRoot: sigstore/trusted_root.json
  rules:
  - images: [ghcr.io/acme/*]
    keyless:
      issuer: https://token.actions.githubusercontent.com
      subjectRegExp: https://github\.com/acme/.*
    attestation:
      predicateType: https://slsa.dev/provenance/v1
      sourceRepository: https://github.com/acme/app
  - images: [registry.example.com/**]
    key: keys/cosign.pub
    tlog: false
`))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Signatures
	if p == nil || p.Mode != "enforce" || p.TrustedRoot != "sigstore/trusted_root.json" || len(p.Rules) != 2 {
		t.Fatalf("%+v", p)
	}
	r0, r1 := p.Rules[0], p.Rules[1]
	if r0.Keyless == nil || r0.Keyless.SubjectRegExp != `https://github\.com/acme/.*` || r0.Attestation == nil || r0.Attestation.SourceRepository != "https://github.com/acme/app" {
		t.Errorf("rule 1: %+v", r0)
	}
	if r1.Key != "keys/cosign.pub" || r1.TLog == nil || *r1.TLog {
		t.Errorf("rule 2: %+v", r1)
	}
}
