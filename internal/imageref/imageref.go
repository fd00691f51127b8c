// Package imageref holds an image reference exactly as a file spells it.
//
// pinbot never rewrites the name a user wrote: "nginx" stays "nginx", not
// "docker.io/library/nginx". A Ref therefore keeps the written name, tag and
// digest apart as plain strings, and only Canonical hands the registry the
// normalised form that go-containerregistry's name package computes.
package imageref

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
)

// DefaultTag is the tag an untagged reference follows.
const DefaultTag = "latest"

// ErrVariable reports a reference assembled from variables or templates.
var ErrVariable = errors.New("built from a variable or template")

// Ref is a reference as written: Name[:Tag][@Digest].
type Ref struct {
	Name   string // as written, without tag or digest
	Tag    string // "" when absent
	Digest string // "sha256:<hex>" or "" when absent
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ValidDigest reports whether d is a digest pinbot writes: "sha256:" and
// 64 lowercase hex digits, nothing before or after. Every digest from
// outside (a registry's answer, a cache file) is held to it before it
// reaches a file, a report or a pull request.
func ValidDigest(d string) bool { return digestRE.MatchString(d) }

// variableMarkers are the spellings of shell, Makefile, Helm, GitHub Actions
// and Argo templating that turn a string into a recipe rather than a name.
var variableMarkers = []string{"$", "{{", "}}", "%{"}

// HasVariable reports whether s is built from a variable or template.
func HasVariable(s string) bool {
	for _, m := range variableMarkers {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// Parse splits a reference as written. It fails for variables, for anything
// go-containerregistry would not accept as a reference, and for digests other
// than sha256.
func Parse(s string) (Ref, error) {
	if HasVariable(s) {
		return Ref{}, ErrVariable
	}
	if s == "" || strings.TrimSpace(s) != s {
		return Ref{}, errors.New("not an image reference: empty or padded with spaces")
	}
	var r Ref
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
		if !digestRE.MatchString(r.Digest) {
			return Ref{}, fmt.Errorf("digest %q is not sha256:<64 hex digits>", r.Digest)
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		r.Tag = rest[i+1:]
		rest = rest[:i]
		if r.Tag == "" {
			return Ref{}, errors.New("empty tag")
		}
	}
	r.Name = rest
	if _, err := r.repository(); err != nil {
		return Ref{}, fmt.Errorf("not an image reference: %w", err)
	}
	return r, nil
}

func (r Ref) repository() (name.Repository, error) {
	tag := r.Tag
	if tag == "" {
		tag = DefaultTag
	}
	t, err := name.NewTag(r.Name + ":" + tag)
	if err != nil {
		return name.Repository{}, err
	}
	return t.Context(), nil
}

// String is the reference as written.
func (r Ref) String() string {
	s := r.Name
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// WithDigest is the reference as written with its digest set to d.
func (r Ref) WithDigest(d string) string {
	r.Digest = d
	return r.String()
}

// Follows is the tag the reference follows: its own, or latest when it has
// neither tag nor digest. A reference pinned by digest alone follows nothing.
func (r Ref) Follows() string {
	switch {
	case r.Tag != "":
		return r.Tag
	case r.Digest != "":
		return ""
	default:
		return DefaultTag
	}
}

// Canonical is the fully qualified tag to resolve: registry, repository and the
// tag the reference follows (index.docker.io/library/nginx:latest for "nginx").
// It fails for a reference pinned by digest alone.
func (r Ref) Canonical() (name.Tag, error) {
	tag := r.Follows()
	if tag == "" {
		return name.Tag{}, fmt.Errorf("%s is pinned by digest alone: no tag to follow", r)
	}
	return name.NewTag(r.Name + ":" + tag)
}

// Repository is the registry and repository, normalised ("index.docker.io/library/nginx").
func (r Ref) Repository() string {
	repo, err := r.repository()
	if err != nil {
		return r.Name
	}
	return repo.Name()
}

// Familiar is the repository as people say it: "nginx", "grafana/grafana",
// "quay.io/argoproj/argocd" (Docker Hub's implicit parts dropped).
func (r Ref) Familiar() string {
	repo, err := r.repository()
	if err != nil {
		return r.Name
	}
	if repo.RegistryStr() != name.DefaultRegistry {
		return repo.Name()
	}
	return strings.TrimPrefix(repo.RepositoryStr(), "library/")
}

// Spellings are the ways people write the image's repository: as written,
// familiar (nginx), in full (index.docker.io/library/nginx) and as
// docker.io/library/nginx. The configuration's image globs match any.
func (r Ref) Spellings() []string {
	out := []string{r.Name, r.Familiar(), r.Repository()}
	if full := r.Repository(); strings.HasPrefix(full, "index.docker.io/") {
		out = append(out, "docker.io/"+strings.TrimPrefix(full, "index.docker.io/"))
	}
	return out
}

// firstSeenKey is a key of the first sightings of moved tags (the cache's,
// a pull request body's): a canonical tag, "@", a digest; or "action:", an
// action's repository, "@", its ref, "@", a commit. Compiled when first
// used: its counted repetitions cost milliseconds, which every run would
// pay at start.
var firstSeenKey = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:[a-z0-9.:\[\]-]+/[a-z0-9._/-]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}@sha256:[0-9a-f]{64}|action:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+@[A-Za-z0-9._/+-]{1,255}@[0-9a-f]{40})$`)
})

// FirstSeenKey tells a key of first sightings, as pinbot writes them.
func FirstSeenKey(k string) bool { return firstSeenKey().MatchString(k) }
