package rewrite

import (
	"bytes"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Format is a kind of file pinbot reads: one row of the table of formats.
type Format int

const (
	FormatNone          Format = iota
	FormatManifest             // any other .yaml/.yml: Kubernetes objects
	FormatCompose              // compose.yaml, docker-compose.*.yml
	FormatWorkflow             // .github/workflows/*.yml
	FormatAction               // action.yml
	FormatKustomization        // kustomization.yaml
	FormatDockerfile           // Dockerfile, Containerfile, *.Dockerfile
	FormatHelmValues           // values*.yaml of a chart
	FormatHelmTemplate         // a chart's templates/
	FormatGitLab               // .gitlab-ci.yml and the files it includes
	FormatDevcontainer         // .devcontainer/devcontainer.json
	FormatManifestJSON         // *.json: Kubernetes objects written as JSON
)

// language is how a format's files are parsed to find sites.
type language int

const (
	langYAML language = iota
	langDockerfile
	langTemplate // a Go template: read line by line
	langJSONC    // JSON with comments and trailing commas
)

// A finder is one format: how its files are told by their path, how they
// are parsed, and the sites it finds. Adding a format is one finder (in a
// file of its own) and one row of formats.
type finder struct {
	format Format
	name   string // as String() says it
	lang   language
	// match tells the format's files by their slash path.
	match func(n fileName, c *Context) bool
	// walk finds the sites of one YAML document (langYAML).
	walk func(w *yamlWalk, root *yaml.Node)
	// scan finds the sites of a whole file (the other languages).
	scan func(f *File) error
	// sniff, when set, tells from a file's bytes whether it is of the
	// format at all: one that is not has no sites and is no failure.
	sniff func(data []byte) bool
	// json: the format's files are JSON, and what is inserted is too.
	json bool
	// files and places are the format's row of the README's table of
	// where images are found (and pin --help's).
	files, places string
}

// formats is the table of formats, in the order a path is tried: the first
// that matches owns the file.
var formats = []finder{
	{
		format: FormatDockerfile, name: "dockerfile", lang: langDockerfile, match: isDockerfile, scan: (*File).scanDockerfile,
		files:  "`Dockerfile`, `Containerfile`, `*.Dockerfile`, `Dockerfile.*`",
		places: "`FROM` (any case, `--platform=`, `AS`; a previous stage and `scratch` are no images), `COPY --from=<image>`, `RUN --mount=…,from=<image>`, the `# syntax=` directive, and the default of a global `ARG` that a `FROM` uses whole (`ARG BASE=debian:12` … `FROM $BASE`). `# escape=` counts only at the top of the file.",
	},
	{
		format: FormatKustomization, name: "kustomization", match: isKustomization, walk: (*yamlWalk).kustomization,
		files:  "`kustomization.yaml`, `Kustomization`",
		places: "`images[]` entries with `newTag`: `(newName or name):newTag` is resolved and a `digest:` field is set or renewed. An entry with a `digest:` and no `newTag` is pinned by digest alone; one with neither takes its tag from the manifests; a `newName` that carries a tag is not kustomize's form. All three are left alone. `helmCharts[].valuesInline` is read as chart values.",
	},
	{
		format: FormatWorkflow, name: "workflow", match: isWorkflow, walk: (*yamlWalk).workflow,
		files:  "`.github/workflows/*.yml`",
		places: "`jobs.*.container` (a string or `.image`), `jobs.*.services.*` (a string or `.image`), `steps[].uses: docker://…`; and the actions and reusable workflows `steps[].uses` and `jobs.*.uses` name by ref (`owner/repo[/path]@ref`), pinned to commits (see GitHub Actions)",
	},
	{
		format: FormatGitLab, name: "gitlab", match: isGitLab, walk: (*yamlWalk).gitlab,
		files:  "`.gitlab-ci.yml` and the local files its `include:` names",
		places: "`image:` (a string or `.name`) and `services:` (strings or `.name`) at the top level, under `default:` and in every job",
	},
	{
		format: FormatDevcontainer, name: "devcontainer", lang: langJSONC, match: isDevcontainer, scan: (*File).scanDevcontainer,
		files:  "`.devcontainer/devcontainer.json`, `.devcontainer/*/devcontainer.json`, `.devcontainer.json`",
		places: "`image` (JSON with comments: the value is spliced, the file never re-written)",
	},
	{
		format: FormatAction, name: "action", match: isAction, walk: (*yamlWalk).action,
		files:  "`action.yml`",
		places: "`runs.image: docker://…`, composite `runs.steps[].uses: docker://…`; and the actions a composite action's steps name by ref, pinned to commits",
	},
	{
		format: FormatCompose, name: "compose", match: isCompose, walk: (*yamlWalk).compose,
		files:  "`compose.yaml`, `docker-compose*.yml`",
		places: "`services.*.image`, or the services at the top level in the version 1 layout; the default inside `${VAR:-default}` or `${VAR-default}`. A service that also has `build:` names its own output and is left alone.",
	},
	{
		format: FormatHelmValues, name: "helm values", match: isHelmValues, walk: (*yamlWalk).helmValues,
		files:  "Helm chart values: `values*.yaml` beside `Chart.yaml`, `ci/*values.yaml`, and those of charts vendored under `charts/`",
		places: "image maps under any key (`image`, `controller.image`, `server.sidecars[0].image`): `{repository, tag}`, `{registry, repository, tag}`, `{repository, tag, digest}`, `{registry, image, tag, digest}`, and `{name, tag}` or `{name, version}` under a key naming an image, with `global.imageRegistry` where a map has no registry. The digest goes into the map's `digest` (or `sha`) key, or into one the chart's templates read, or else after the tag (`tag: \"1.2.3@sha256:…\"`), so the chart renders `repo:tag@sha256:…`. A map without a tag takes the tag the chart renders from `Chart.yaml`'s `appVersion`: into its digest key where it has one, else written with the digest into `tag:` and marked `# pinbot:appVersion=X`, so the tag moves when `appVersion` does (the `Chart.yaml` annotation `pinbot/app-version-tags: \"off\"` turns this off). A `pullPolicy` key follows `--pull-policy`. Plain `image: repo:tag` strings too, and a string under any other key that reads as a reference with a path and a tag (`global.imageK8S: hashicorp/consul-k8s:1.5.0`) where the chart renders it as an image field (nowhere else is it reported). Every pin is proved by rendering the chart (see Helm charts).",
	},
	{
		format: FormatHelmTemplate, name: "helm template", lang: langTemplate, match: isHelmTemplate, scan: (*File).scanTemplate,
		files:  "Helm chart templates (`templates/`)",
		places: "a line holding a complete literal reference (`image: busybox:1.36`, `image: \"quay.io/x/y:v1\"`); a line with template syntax is skipped with the reason, and the rest of the file is never touched.",
	},
	{
		format: FormatManifest, name: "manifest", match: isYAML, walk: (*yamlWalk).object,
		files:  "Kubernetes manifests (any other `.yaml`/`.yml`, multi-document, `kind: List`)",
		places: "`containers`, `initContainers`, `ephemeralContainers` and image volumes of Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, ReplicationController, PodTemplate; for other kinds (CRDs such as Argo Workflows or Tekton Tasks) any `image:` key holding a string. Argo CD `Application` and `ApplicationSet` (`spec.source(s).helm.valuesObject`, `helm.values` spliced inside its block string, `kustomize.images`) and Flux `HelmRelease` (`spec.values`) with the rules of chart values. ConfigMap and Secret data are never touched. Anchors, aliases and merge keys are followed.",
	},
	{
		format: FormatManifestJSON, name: "manifest (JSON)", match: isJSON, walk: (*yamlWalk).object, sniff: looksLikeObject, json: true,
		files:  "Kubernetes manifests written as JSON (any other `.json` that holds `\"apiVersion\"` and `\"kind\"`; `kind: List` too)",
		places: "as for manifests in YAML; an inserted `imagePullPolicy` is written as JSON, and nothing else in the file changes",
	},
}

func finderOf(f Format) *finder {
	for i := range formats {
		if formats[i].format == f {
			return &formats[i]
		}
	}
	return nil
}

// Kind names the language of the format's files: "YAML", "Dockerfile"...
func (f Format) Kind() string {
	if fd := finderOf(f); fd != nil {
		switch fd.lang {
		case langDockerfile:
			return "Dockerfile"
		case langTemplate:
			return "template"
		case langJSONC:
			return "JSON"
		}
		if fd.json {
			return "JSON"
		}
	}
	return "YAML"
}

// Row is one row of the table of where images are found.
type Row struct{ Files, Places string }

// Table is the table of where images are found, one row per format, as the
// README shows it.
func Table() []Row {
	var out []Row
	for _, fd := range formats {
		out = append(out, Row{fd.files, fd.places})
	}
	return out
}

// Detect tells a file's format from its slash-separated path and what the
// context knows of the checkout.
func (c *Context) Detect(p string) Format {
	n := splitName(p)
	for i := range formats {
		if formats[i].match(n, c) {
			return formats[i].format
		}
	}
	return FormatNone
}

// fileName is a slash path taken apart once for every format's match.
type fileName struct {
	path  string // as given
	dir   string // path.Dir(path)
	base  string // path.Base(path)
	lower string // base in lower case
	ext   string // lower's extension: ".yaml"
	yaml  bool   // ext is .yaml or .yml
}

func splitName(p string) fileName {
	n := fileName{path: p, dir: path.Dir(p), base: path.Base(p)}
	n.lower = strings.ToLower(n.base)
	n.ext = path.Ext(n.lower)
	n.yaml = n.ext == ".yaml" || n.ext == ".yml"
	return n
}

// notDockerfile are extensions that make "Dockerfile.x" something else.
var notDockerfile = map[string]bool{
	".dockerignore": true, ".md": true, ".txt": true, ".go": true, ".sh": true, ".py": true, ".js": true,
	".ts": true, ".json": true, ".yaml": true, ".yml": true, ".toml": true, ".bak": true, ".orig": true,
	".rej": true, ".swp": true, ".tmpl": true, ".tpl": true, ".j2": true, ".erb": true, ".in": true,
}

func isDockerfile(n fileName, _ *Context) bool {
	lower, ext := n.lower, n.ext
	return lower == "dockerfile" || lower == "containerfile" ||
		((strings.HasPrefix(lower, "dockerfile.") || strings.HasPrefix(lower, "containerfile.") ||
			ext == ".dockerfile" || ext == ".containerfile") && !notDockerfile[ext])
}

func isKustomization(n fileName, _ *Context) bool {
	return n.base == "Kustomization" || n.lower == "kustomization.yaml" || n.lower == "kustomization.yml"
}

func isYAML(n fileName, _ *Context) bool { return n.yaml }

func isJSON(n fileName, _ *Context) bool { return n.ext == ".json" }

// looksLikeObject tells JSON that may be a Kubernetes object (or a list of
// them): it names both apiVersion and kind. package.json, tsconfig.json and
// the like are no manifests, and no failure to read one.
func looksLikeObject(data []byte) bool {
	return bytes.Contains(data, []byte(`"apiVersion"`)) && bytes.Contains(data, []byte(`"kind"`))
}

// isYAMLPath reports whether p ends in .yaml or .yml, in any case.
func isYAMLPath(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".yaml" || ext == ".yml"
}

func isWorkflow(n fileName, _ *Context) bool {
	return n.yaml && strings.HasSuffix(n.dir, ".github/workflows") && n.dir != n.path
}

func isAction(n fileName, _ *Context) bool {
	return n.lower == "action.yml" || n.lower == "action.yaml"
}

func isCompose(n fileName, _ *Context) bool {
	if !n.yaml {
		return false
	}
	stem := strings.TrimSuffix(strings.TrimSuffix(n.lower, ".yaml"), ".yml")
	for _, p := range []string{"compose", "docker-compose"} {
		if rest, ok := strings.CutPrefix(stem, p); ok && (rest == "" || rest[0] == '.' || rest[0] == '-') {
			return true
		}
	}
	return false
}
