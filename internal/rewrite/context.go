package rewrite

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Context is what finding sites needs to know beyond one file's path and
// bytes: the Helm charts of the checkout and the files GitLab CI includes.
// A nil Context knows nothing of the checkout.
type Context struct {
	charts map[string]*Chart // by directory ("." for the root)
	gitlab map[string]bool   // local files a .gitlab-ci.yml includes
}

// Chart is a Helm chart: a directory with Chart.yaml.
type Chart struct {
	Dir        string // slash path; "." for the checkout's root
	Name       string
	AppVersion string
	// NoAppVersionTags: Chart.yaml's annotation pinbot/app-version-tags
	// is "off": a tag left to appVersion is not pinned into the tag.
	NoAppVersionTags bool
	// digests are the value paths ("image", "server.image") whose digest
	// key the chart's templates read: .Values.<path>.digest (or .sha).
	digests map[string]bool
	// subcharts are the charts vendored under charts/, by name.
	subcharts map[string]*Chart
}

// AnnotationAppVersionTags is the Chart.yaml annotation that, set to
// "off", keeps pinbot from writing the tag a chart takes from its
// appVersion into its values.
const AnnotationAppVersionTags = "pinbot/app-version-tags"

// NewContext learns the checkout from its file list (slash paths relative to
// the root): the charts (Chart.yaml, the values paths whose digest their
// templates read) and GitLab CI's local includes. read reads a file of the
// list; a file it cannot read is taken as absent.
func NewContext(files []string, read func(string) ([]byte, error)) *Context {
	c := &Context{charts: map[string]*Chart{}, gitlab: map[string]bool{}}
	templates := map[string][]string{} // chart dir -> its template files
	for _, f := range files {
		if path.Base(f) == "Chart.yaml" {
			dir := path.Dir(f)
			ch := &Chart{Dir: dir, Name: path.Base(dir), digests: map[string]bool{}, subcharts: map[string]*Chart{}}
			if data, err := read(f); err == nil {
				var meta struct {
					Name        string         `yaml:"name"`
					AppVersion  any            `yaml:"appVersion"`
					Annotations map[string]any `yaml:"annotations"`
				}
				if yaml.Unmarshal(data, &meta) == nil {
					if meta.Name != "" {
						ch.Name = meta.Name
					}
					ch.NoAppVersionTags = fmt.Sprint(meta.Annotations[AnnotationAppVersionTags]) == "off"
					if s, ok := meta.AppVersion.(string); ok {
						ch.AppVersion = s
					}
				}
			}
			c.charts[dir] = ch
		}
	}
	for _, f := range files {
		if dir, ok := c.templateChart(f); ok && (strings.HasSuffix(f, ".tpl") || isYAMLPath(f)) {
			templates[dir] = append(templates[dir], f)
		}
		if strings.EqualFold(path.Base(f), ".gitlab-ci.yml") || strings.EqualFold(path.Base(f), ".gitlab-ci.yaml") {
			if data, err := read(f); err == nil {
				for _, inc := range gitlabIncludes(data) {
					c.gitlab[inc] = true
				}
			}
		}
	}
	for dir, ch := range c.charts {
		for _, t := range templates[dir] {
			if data, err := read(t); err == nil && readsDigest(data) {
				for _, m := range digestReadRE.FindAllSubmatch(data, -1) {
					ch.digests[string(m[1])] = true
				}
			}
		}
		// a chart vendored as <parent>/charts/<name> is its parent's subchart
		if parentDir := path.Dir(dir); path.Base(parentDir) == "charts" {
			if parent := c.charts[path.Dir(parentDir)]; parent != nil {
				parent.subcharts[ch.Name] = ch
				parent.subcharts[path.Base(dir)] = ch
			}
		}
	}
	return c
}

// readsDigest reports whether a template may read a digest: few do, and
// the expression that finds where is slow to run over the others.
func readsDigest(data []byte) bool {
	return bytes.Contains(data, []byte(".Values.")) && (bytes.Contains(data, []byte(".digest")) || bytes.Contains(data, []byte(".sha")))
}

// digestReadRE finds a template reading a digest: .Values.a.b.digest.
var digestReadRE = regexp.MustCompile(`\.Values\.([A-Za-z0-9_.]+?)\.(?:digest|sha)\b`)

// chartOf is the chart whose directory holds a values file at p: the file
// beside Chart.yaml, or in the chart's ci/ directory.
func (c *Context) chartOf(p string) *Chart { return c.chartIn(path.Dir(p)) }

// chartIn is the chart whose values files may be in directory dir.
func (c *Context) chartIn(dir string) *Chart {
	if c == nil {
		return nil
	}
	if ch := c.charts[dir]; ch != nil {
		return ch
	}
	if path.Base(dir) == "ci" {
		return c.charts[path.Dir(dir)]
	}
	return nil
}

// templateChart is the chart whose templates/ directory holds p.
func (c *Context) templateChart(p string) (string, bool) {
	if c == nil || len(c.charts) == 0 {
		return "", false
	}
	for dir := path.Dir(p); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if path.Base(dir) == "templates" {
			if _, ok := c.charts[path.Dir(dir)]; ok {
				return path.Dir(dir), true
			}
		}
	}
	return "", false
}

// Charts lists the charts the context knows, by directory.
func (c *Context) Charts() []*Chart {
	if c == nil {
		return nil
	}
	var out []*Chart
	for _, ch := range c.charts {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out
}

// readsDigest reports whether the chart's templates (or, for a subchart's
// values, the subchart's) read a digest key of the image map at path.
func (ch *Chart) readsDigest(p []string) bool {
	if ch == nil || len(p) == 0 {
		return false
	}
	if ch.digests[strings.Join(p, ".")] {
		return true
	}
	if sub := ch.subcharts[p[0]]; sub != nil {
		return sub.readsDigest(p[1:])
	}
	return false
}

// gitlabIncludes are the local files a .gitlab-ci.yml includes: include:
// "path", include: [path, {local: path}], include: {local: path}.
func gitlabIncludes(data []byte) []string {
	var doc yaml.Node
	if yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	var inc *yaml.Node
	for i := 0; root.Kind == yaml.MappingNode && i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "include" {
			inc = root.Content[i+1]
		}
	}
	var out []string
	add := func(n *yaml.Node) {
		switch n.Kind {
		case yaml.ScalarNode:
			if !strings.Contains(n.Value, "://") {
				out = append(out, strings.TrimPrefix(path.Clean("/"+n.Value), "/"))
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "local" && n.Content[i+1].Kind == yaml.ScalarNode {
					out = append(out, strings.TrimPrefix(path.Clean("/"+n.Content[i+1].Value), "/"))
				}
			}
		}
	}
	if inc == nil {
		return nil
	}
	if inc.Kind == yaml.SequenceNode {
		for _, it := range inc.Content {
			add(it)
		}
	} else {
		add(inc)
	}
	return out
}
