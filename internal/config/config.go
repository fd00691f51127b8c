// Package config reads .pinbot.yaml, the per-repository settings that the
// command line's flags add to.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/pinbot/pinbot/internal/imageref"
	"github.com/pinbot/pinbot/internal/resolve"
	"github.com/pinbot/pinbot/internal/rewrite"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// DefaultFile is the configuration file looked for at a checkout's root.
const DefaultFile = ".pinbot.yaml"

// Config is .pinbot.yaml.
type Config struct {
	// Mirrors resolves references of a registry (or registry/prefix) through
	// another: {"docker.io": "harbor.example.com/dockerhub-proxy"}.
	Mirrors map[string]string `yaml:"mirrors"`
	// InsecureRegistries may be reached over plain HTTP.
	InsecureRegistries []string `yaml:"insecureRegistries"`
	// PullPolicy is IfNotPresent (default), Always or keep.
	PullPolicy string `yaml:"pullPolicy"`
	// Include limits the files scanned to those matching any glob; Exclude
	// drops files matching any. Globs are relative to the root; ** crosses
	// directories.
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// Ignore lists images to leave alone: a repository (any tag), a
	// repository:tag, or a glob over either.
	Ignore []string `yaml:"ignore"`
}

var keys = []string{"mirrors", "insecureRegistries", "pullPolicy", "include", "exclude", "ignore"}

// Load reads a configuration file. An unknown key, a wrong type or a bad
// value is an error naming the file, the line and the key.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse reads configuration bytes; name is used in errors.
func Parse(name string, data []byte) (*Config, error) {
	c := &Config{}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return c, nil // empty, or only comments
		}
		return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return c, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		if root.Tag == "!!null" {
			return c, nil
		}
		return nil, fmt.Errorf("%s:%d: want a mapping of settings (%s)", name, root.Line, strings.Join(keys, ", "))
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		known := false
		for _, key := range keys {
			known = known || k.Value == key
		}
		if !known {
			return nil, fmt.Errorf("%s:%d: unknown key %q (known keys: %s)", name, k.Line, k.Value, strings.Join(keys, ", "))
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			return nil, fmt.Errorf("%s: %s", name, strings.Join(te.Errors, "; "))
		}
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	line := func(key string) int {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == key {
				return root.Content[i].Line
			}
		}
		return 0
	}
	if c.PullPolicy != "" {
		if _, err := rewrite.ParsePullPolicy(c.PullPolicy); err != nil {
			return nil, fmt.Errorf("%s:%d: pullPolicy: %v", name, line("pullPolicy"), err)
		}
	}
	for _, key := range []string{"include", "exclude", "ignore"} {
		list := map[string][]string{"include": c.Include, "exclude": c.Exclude, "ignore": c.Ignore}[key]
		for _, g := range list {
			if !doublestar.ValidatePattern(g) {
				return nil, fmt.Errorf("%s:%d: %s: %q is not a valid glob", name, line(key), key, g)
			}
		}
	}
	for _, m := range c.MirrorList() {
		if _, err := resolve.ParseMirror(m); err != nil {
			return nil, fmt.Errorf("%s:%d: mirrors: %v", name, line("mirrors"), err)
		}
	}
	return c, nil
}

// MirrorList is Mirrors as SRC=DST strings, sorted.
func (c *Config) MirrorList() []string {
	var out []string
	for k, v := range c.Mirrors {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Matcher tells whether a file path or an image is selected by globs.
type Matcher struct {
	include, exclude, ignore []string
}

// NewMatcher checks and keeps the globs.
func NewMatcher(include, exclude, ignore []string) (*Matcher, error) {
	for _, g := range append(append(append([]string(nil), include...), exclude...), ignore...) {
		if !doublestar.ValidatePattern(g) {
			return nil, fmt.Errorf("%q is not a valid glob", g)
		}
	}
	return &Matcher{include: include, exclude: exclude, ignore: ignore}, nil
}

// File reports whether a slash path relative to the root is to be scanned.
func (m *Matcher) File(rel string) bool {
	if len(m.include) > 0 && !anyMatch(m.include, rel) {
		return false
	}
	return !anyMatch(m.exclude, rel)
}

// Dir reports whether a directory can hold files to scan: false only when an
// exclude glob matches the directory and everything under it.
func (m *Matcher) Dir(rel string) bool {
	for _, g := range m.exclude {
		if ok, _ := doublestar.Match(g, rel); ok {
			return false
		}
		if strings.HasSuffix(g, "/**") {
			if ok, _ := doublestar.Match(strings.TrimSuffix(g, "/**"), rel); ok {
				return false
			}
		}
	}
	return true
}

func anyMatch(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := doublestar.Match(g, s); ok {
			return true
		}
	}
	return false
}

// Ignored reports whether an image is listed to be left alone. An entry
// matches the repository in any spelling ("nginx", "docker.io/library/nginx"),
// with or without the tag written.
func (m *Matcher) Ignored(r imageref.Ref) bool {
	if len(m.ignore) == 0 {
		return false
	}
	names := spellings(r)
	for _, g := range m.ignore {
		for _, n := range names {
			if ok, _ := doublestar.Match(g, n); ok {
				return true
			}
			if tag := r.Follows(); tag != "" {
				if ok, _ := doublestar.Match(g, n+":"+tag); ok {
					return true
				}
			}
		}
	}
	return false
}

// spellings are the ways people write an image's repository.
func spellings(r imageref.Ref) []string {
	out := []string{r.Name, r.Familiar(), r.Repository()}
	if full := r.Repository(); strings.HasPrefix(full, "index.docker.io/") {
		out = append(out, "docker.io/"+strings.TrimPrefix(full, "index.docker.io/"))
	}
	return out
}
