// Package render renders Helm charts in-process, with Helm's own engine, as
// "helm template" does, and finds the images a render names. pinbot uses it
// to learn which rendered image each value of a chart makes, and to prove
// its edits: a chart's files are written only when a render of them shows
// each image it pinned, and nothing else, changed as meant.
package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"regexp"
	"unicode"

	"slices"
	"strconv"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/ignore"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Files are a chart's files by slash path relative to its directory
// (Chart.yaml, values.yaml, templates/..., charts/...).
type Files map[string][]byte

// Timeout bounds one render: a template may loop for as long as it likes.
const Timeout = 30 * time.Second

// ReleaseName and Namespace are what "helm template" renders with by default.
const (
	ReleaseName = "release-name"
	Namespace   = "default"
)

// Render renders the chart as "helm template [-f values]" would: its own
// values.yaml, with values (a values file's bytes; nil for none) on top,
// dependencies enabled or disabled by their conditions and tags, and
// Helm's default capabilities. The answer is each template's output by its
// name ("mychart/templates/deployment.yaml"); NOTES.txt is left out.
func Render(ctx context.Context, files Files, values []byte) (map[string]string, error) {
	return RenderAt(ctx, files, values, "")
}

// DefaultKubeVersion is the Kubernetes version Helm renders for when no
// cluster is asked (and helm template without --kube-version).
func DefaultKubeVersion() string { return common.DefaultCapabilities.KubeVersion.Version }

// OtherKubeVersion is a Kubernetes version three minor releases before
// Helm's default: rendered at both, a chart shows what follows the
// cluster it is deployed to.
func OtherKubeVersion() string {
	kv := common.DefaultCapabilities.KubeVersion
	minor, err := strconv.Atoi(kv.Minor)
	if err != nil || minor < 4 {
		return "v1.28.0"
	}
	return fmt.Sprintf("v%s.%d.0", kv.Major, minor-3)
}

// RenderAt is Render as if the cluster ran Kubernetes kube ("v1.31.0";
// "" for Helm's default).
func RenderAt(ctx context.Context, files Files, values []byte, kube string) (map[string]string, error) {
	ch, err := Load(files)
	if err != nil {
		return nil, err
	}
	vals := map[string]any{}
	if values != nil {
		if vals, err = loader.LoadValues(bytes.NewReader(values)); err != nil {
			return nil, fmt.Errorf("reading the values: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	type answer struct {
		out map[string]string
		err error
	}
	done := make(chan answer, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil { // a template that panics the engine
				done <- answer{err: fmt.Errorf("the chart's templates panicked: %v", r)}
			}
		}()
		out, err := render(ctx, ch, vals, kube)
		done <- answer{out, err}
	}()
	select {
	case a := <-done:
		return a.out, a.err
	case <-ctx.Done():
		return nil, fmt.Errorf("rendering the chart: %w", ctx.Err())
	}
}

// InProcess renders in this process (Render).
type InProcess struct{}

// Render is Render.
func (InProcess) Render(ctx context.Context, files Files, values []byte) (map[string]string, error) {
	return Render(ctx, files, values)
}

// RenderAt is RenderAt.
func (InProcess) RenderAt(ctx context.Context, files Files, values []byte, kube string) (map[string]string, error) {
	return RenderAt(ctx, files, values, kube)
}

func render(ctx context.Context, ch *chart.Chart, vals map[string]any, kube string) (map[string]string, error) {
	// as helm template does: a dependency Chart.yaml lists must be vendored
	var missing []string
	for _, dep := range ch.Metadata.Dependencies {
		if !slices.ContainsFunc(ch.Dependencies(), func(d *chart.Chart) bool { return d.Name() == dep.Name }) {
			missing = append(missing, dep.Name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("found in Chart.yaml, but missing in charts/ directory: %s", strings.Join(missing, ", "))
	}
	if err := chartutil.ProcessDependencies(ch, vals); err != nil {
		return nil, fmt.Errorf("the chart's dependencies: %w", err)
	}
	caps := common.DefaultCapabilities.Copy()
	if kube != "" {
		kv, err := common.ParseKubeVersion(kube)
		if err != nil {
			return nil, fmt.Errorf("the Kubernetes version %q: %w", kube, err)
		}
		caps.KubeVersion = *kv
	}
	opts := common.ReleaseOptions{Name: ReleaseName, Namespace: Namespace, Revision: 1, IsInstall: true}
	// Helm's own schema validation fetches what a $ref names: skipped for
	// pinbot's, which reads the chart's files alone
	rv, err := util.ToRenderValuesWithSchemaValidation(ch, vals, opts, caps, true)
	if err != nil {
		return nil, err
	}
	coalesced, err := rv.Table("Values")
	if err != nil {
		return nil, err
	}
	if err := validate(ch, coalesced); err != nil {
		return nil, fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%w", err)
	}
	var e engine.Engine
	out, err := e.RenderWithContext(ctx, ch, rv)
	if err != nil {
		return nil, err
	}
	for k := range out {
		if strings.HasSuffix(k, "NOTES.txt") {
			delete(out, k)
		}
	}
	return out, nil
}

// Load loads a chart from its files, leaving out what its .helmignore
// names, as Helm's directory loader does.
func Load(files Files) (*chart.Chart, error) {
	rules := ignore.Empty()
	if data, ok := files[ignore.HelmIgnore]; ok {
		r, err := ignore.Parse(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ignore.HelmIgnore, err)
		}
		rules = r
	}
	rules.AddDefaults()
	var buffered []*archive.BufferedFile
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if ignored(rules, name) {
			continue
		}
		data := bytes.TrimPrefix(files[name], []byte("\xef\xbb\xbf"))
		buffered = append(buffered, &archive.BufferedFile{Name: name, Data: data})
	}
	ch, err := loader.LoadFiles(buffered)
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// ignored tells a file the rules leave out, itself or by a directory above it.
func ignored(rules *ignore.Rules, name string) bool {
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		if rules.Ignore(strings.Join(parts[:i], "/"), info{name: parts[i-1], dir: true}) {
			return true
		}
	}
	return rules.Ignore(name, info{name: parts[len(parts)-1]})
}

// info is the fs.FileInfo the ignore rules look at: a name, and whether it
// is a directory.
type info struct {
	name string
	dir  bool
}

func (i info) Name() string { return i.name }
func (i info) Size() int64  { return 0 }
func (i info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return i.dir }
func (i info) Sys() any           { return nil }

// A Value is one string a render holds: where (Slot: the template, the
// document's index in it, and the path to the field), what, and whether
// the field is an image ("image": the containers of every workload kind,
// and the images of custom resources).
type Value struct {
	Slot  string
	Text  string
	Image bool
}

// docSep is where Helm splits a template's output into manifests (see
// helm's releaseutil.SplitManifests): a line that begins "---", whatever
// follows on it. A chart whose templates write "---# comment" or
// "---apiVersion: v1" installs, so it is read as Helm reads it.
var docSep = regexp.MustCompile(`(?m)^---[ \t]*`)

// Values are the strings a render holds, in a stable order. A template
// whose output is not YAML is an error naming it.
func Values(out map[string]string) ([]Value, error) {
	var vals []Value
	for _, name := range slices.Sorted(maps.Keys(out)) {
		doc := 0
		for _, text := range docSep.Split(strings.TrimLeftFunc(out[name], unicode.IsSpace), -1) {
			if strings.TrimSpace(text) == "" {
				continue
			}
			d := yaml.NewDecoder(strings.NewReader(text))
			for {
				var n yaml.Node
				err := d.Decode(&n)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return nil, fmt.Errorf("%s renders what is not YAML: %w", name, err)
				}
				collect(&n, name+"#"+strconv.Itoa(doc), false, &vals, 0)
				doc++
			}
		}
	}
	return vals, nil
}

func collect(n *yaml.Node, at string, image bool, vals *[]Value, depth int) {
	if n == nil || depth > 200 {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			collect(c, at, false, vals, depth+1)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			collect(c, at+"["+strconv.Itoa(i)+"]", false, vals, depth+1)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			collect(v, at+"."+k.Value, k.Value == "image", vals, depth+1)
		}
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			*vals = append(*vals, Value{Slot: at, Text: n.Value, Image: image})
		}
	}
}
