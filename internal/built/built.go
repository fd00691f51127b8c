// Package built learns the images a repository builds itself: Skaffold
// artifacts, Tilt builds, the tags a workflow builds and pushes
// (docker/build-push-action), and compose services with a build section.
// Such a name is no dependency to pin: the build tool fills in what is
// deployed, and asking a public registry for it asks about a name anyone
// could register. References to them are left alone with the file and line
// that builds them; so is every ko:// reference.
//
// The build systems that publish (Skaffold, Tilt, ko, a workflow's pushed
// tags) make a name built everywhere in the repository. A compose build
// makes it built only in that compose project (the compose files of its
// directory): a service built locally and tagged postgres:16 for a dev
// loop says nothing of the postgres:16 a Kubernetes manifest deploys.
package built

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"github.com/pinbot/pinbot/internal/imageref"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Set is the images a repository builds, by repository, each with where.
type Set struct {
	where map[string][]place // normalised repository -> where it is built
}

// place is one build of an image: "file:line", and the directory whose
// compose files it is built for ("" everywhere).
type place struct {
	at, project string
	compose     bool
}

// IsBuildFile tells the files Learn reads: skaffold*.yaml, Tiltfile,
// compose files and GitHub workflows.
func IsBuildFile(p string) bool {
	if isWorkflow(p) {
		return true
	}
	base := strings.ToLower(path.Base(p))
	switch {
	case base == "tiltfile" || strings.HasSuffix(base, ".tiltfile"):
		return true
	case strings.HasPrefix(base, "skaffold") && (strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml")):
		return true
	}
	return isCompose(base)
}

func isWorkflow(p string) bool {
	return path.Dir(p) == ".github/workflows" && (strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml"))
}

func isCompose(base string) bool {
	for _, p := range []string{"compose", "docker-compose"} {
		if strings.HasPrefix(base, p) && (strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml")) {
			return true
		}
	}
	return false
}

// Learn reads the build files among files (slash paths; read reads one).
// A file it cannot read or parse teaches nothing.
func Learn(files []string, read func(string) ([]byte, error)) *Set {
	s := &Set{where: map[string][]place{}}
	for _, f := range files {
		if !IsBuildFile(f) {
			continue
		}
		data, err := read(f)
		if err != nil {
			continue
		}
		base := strings.ToLower(path.Base(f))
		switch {
		case isWorkflow(f):
			s.yamlDocs(f, data, s.workflow)
		case base == "tiltfile" || strings.HasSuffix(base, ".tiltfile"):
			s.tilt(f, data)
		case isCompose(base):
			s.yamlDocs(f, data, s.compose)
		default:
			s.yamlDocs(f, data, s.skaffold)
		}
	}
	return s
}

// add notes that name is built at file:line, for the whole repository.
func (s *Set) add(name, file string, line int) { s.addPlace(name, file, line, false) }

// addPlace notes that name is built at file:line; for compose, only for
// the compose project of file's directory.
func (s *Set) addPlace(name, file string, line int, compose bool) {
	if name == "" || imageref.HasVariable(name) {
		return
	}
	r, err := imageref.Parse(name)
	if err != nil {
		return
	}
	key := r.Repository()
	p := place{at: fmt.Sprintf("%s:%d", file, line), compose: compose}
	if compose {
		p.project = path.Dir(file)
	}
	s.where[key] = append(s.where[key], p)
}

// Builds tells whether ref, as written in file, names an image the
// repository builds, and where: "skaffold.yaml:26", or "ko://" for a ko
// reference.
func (s *Set) Builds(file, written string, ref imageref.Ref) (string, bool) {
	if strings.HasPrefix(written, "ko://") {
		return "ko://", true
	}
	if s == nil || len(s.where) == 0 {
		return "", false
	}
	for _, p := range s.where[ref.Repository()] {
		if !p.compose || (p.project == path.Dir(file) && isCompose(strings.ToLower(path.Base(file)))) {
			return p.at, true
		}
	}
	return "", false
}

// Reason is the skip reason for a reference to an image built at where.
func Reason(where string) string {
	if where == "ko://" {
		return "built by this repository (a ko:// reference, which ko fills in)"
	}
	return "built by this repository (" + where + ")"
}

func (s *Set) yamlDocs(file string, data []byte, each func(file string, doc *yaml.Node)) {
	d := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := d.Decode(&doc)
		if errors.Is(err, io.EOF) || err != nil {
			return
		}
		if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
			each(file, doc.Content[0])
		}
	}
}

func field(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// skaffold reads build.artifacts[].image, and the same in every profile.
func (s *Set) skaffold(file string, doc *yaml.Node) {
	if v := field(doc, "apiVersion"); v == nil || !strings.HasPrefix(v.Value, "skaffold/") {
		return
	}
	builds := []*yaml.Node{field(doc, "build")}
	if ps := field(doc, "profiles"); ps != nil && ps.Kind == yaml.SequenceNode {
		for _, p := range ps.Content {
			builds = append(builds, field(p, "build"))
		}
	}
	for _, b := range builds {
		arts := field(b, "artifacts")
		if arts == nil || arts.Kind != yaml.SequenceNode {
			continue
		}
		for _, a := range arts.Content {
			if img := field(a, "image"); img != nil && img.Kind == yaml.ScalarNode {
				s.add(img.Value, file, img.Line)
			}
		}
	}
}

// compose reads services.*.image of every service with a build section.
func (s *Set) compose(file string, doc *yaml.Node) {
	svcs := field(doc, "services")
	if svcs == nil || svcs.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(svcs.Content); i += 2 {
		svc := svcs.Content[i+1]
		if field(svc, "build") == nil {
			continue
		}
		if img := field(svc, "image"); img != nil && img.Kind == yaml.ScalarNode {
			s.addPlace(img.Value, file, img.Line, true)
		}
	}
}

// workflow reads the tags of every docker/build-push-action step that
// pushes (with: push: true): a list, by commas or lines.
func (s *Set) workflow(file string, doc *yaml.Node) {
	jobs := field(doc, "jobs")
	if jobs == nil || jobs.Kind != yaml.MappingNode {
		return
	}
	for i := 1; i < len(jobs.Content); i += 2 {
		steps := field(jobs.Content[i], "steps")
		if steps == nil || steps.Kind != yaml.SequenceNode {
			continue
		}
		for _, st := range steps.Content {
			uses := field(st, "uses")
			with := field(st, "with")
			if uses == nil || !strings.HasPrefix(uses.Value, "docker/build-push-action@") || with == nil {
				continue
			}
			if push := field(with, "push"); push == nil || push.Value != "true" {
				continue
			}
			tags := field(with, "tags")
			if tags == nil || tags.Kind != yaml.ScalarNode {
				continue
			}
			for k, line := range strings.Split(tags.Value, "\n") {
				for _, t := range strings.Split(line, ",") {
					n := tags.Line + k
					if tags.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
						n++ // the block's lines start below its key
					}
					s.add(strings.TrimSpace(t), file, n)
				}
			}
		}
	}
}

// tiltBuildRE is a Tilt build of an image: docker_build('name', ...),
// custom_build, docker_build_with_restart.
var tiltBuildRE = regexp.MustCompile(`(?m)^[^#\n]*\b(?:docker_build|custom_build|docker_build_with_restart)\(\s*(?:ref\s*=\s*)?['"]([^'"]+)['"]`)

func (s *Set) tilt(file string, data []byte) {
	for _, m := range tiltBuildRE.FindAllSubmatchIndex(data, -1) {
		line := 1 + bytes.Count(data[:m[2]], []byte("\n"))
		s.add(string(data[m[2]:m[3]]), file, line)
	}
}
