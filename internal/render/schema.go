package render

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
)

// ErrSchemaOutside is a values.schema.json that refers to a schema outside
// its chart (a URL, a file elsewhere on the machine): pinbot reads neither,
// so the chart cannot be rendered as helm template would.
var ErrSchemaOutside = errors.New("refers to a schema outside the chart, which pinbot does not fetch or read")

// validate checks values against the values.schema.json of the chart and
// of each subchart given values, as helm template does, in a sandbox: a
// $ref is looked up among the chart's own files and nowhere else, neither
// on the network nor on the disk (Helm's own validation fetches http(s)
// and file URLs: a chart in a pull request could make a check GET a cloud
// metadata address, or read a file outside the checkout).
func validate(ch *chart.Chart, values map[string]any) error {
	var sb strings.Builder
	if ch.Schema != nil {
		if err := validateOne(ch, values); err != nil {
			if errors.Is(err, ErrSchemaOutside) {
				return fmt.Errorf("%s: values.schema.json %w", ch.Name(), err)
			}
			fmt.Fprintf(&sb, "%s:\n%s\n", ch.Name(), err)
		}
	}
	for _, sub := range ch.Dependencies() {
		raw, ok := values[sub.Name()]
		if !ok || raw == nil {
			continue
		}
		vals, ok := raw.(map[string]any)
		if !ok {
			fmt.Fprintf(&sb, "%s:\ninvalid type for values: expected object (map), got %T\n", sub.Name(), raw)
			continue
		}
		if err := validate(sub, vals); err != nil {
			if errors.Is(err, ErrSchemaOutside) {
				return err
			}
			sb.WriteString(err.Error())
		}
	}
	if sb.Len() > 0 {
		return errors.New(sb.String())
	}
	return nil
}

// chartLoader serves a schema's $refs from the chart's files alone; used
// tells one that served any.
type chartLoader struct {
	files map[string][]byte
	used  bool
}

func (l *chartLoader) Load(u string) (any, error) {
	l.used = true
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "file" || p.Host != "" {
		return nil, fmt.Errorf("%s: %w", u, ErrSchemaOutside)
	}
	name := strings.TrimPrefix(path.Clean(p.Path), "/")
	data, ok := l.files[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", u, ErrSchemaOutside)
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(data))
}

func validateOne(ch *chart.Chart, values map[string]any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unable to validate schema: %v", r)
		}
	}()
	key := sha256.Sum256(ch.Schema)
	if v, ok := compiled.Load(key); ok {
		return v.(*jsonschema.Schema).Validate(common.Values(values).AsMap())
	}
	schema, err := jsonschema.UnmarshalJSON(bytes.NewReader(ch.Schema))
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	for _, f := range ch.Files {
		files[f.Name] = f.Data
	}
	c := jsonschema.NewCompiler()
	loader := &chartLoader{files: files}
	c.UseLoader(loader)
	if err := c.AddResource("file:///values.schema.json", schema); err != nil {
		return err
	}
	v, err := c.Compile("file:///values.schema.json")
	if err != nil {
		var le *jsonschema.LoadURLError
		if errors.As(err, &le) && errors.Is(le.Err, ErrSchemaOutside) {
			return fmt.Errorf("%w: %s", ErrSchemaOutside, le.URL)
		}
		return err
	}
	if !loader.used && compiledCount.Add(1) <= maxCompiled {
		// a schema whole in itself is the same schema wherever it is
		compiled.Store(key, v)
	}
	return v.Validate(common.Values(values).AsMap())
}

// compiled are the schemas compiled so far that refer to no other file,
// by their bytes' digest: a chart rendered once per values set (and
// again with markers, and with the edits) compiles its schema once.
var (
	compiled      sync.Map // [32]byte -> *jsonschema.Schema
	compiledCount atomic.Int64
)

// maxCompiled bounds the schemas kept.
const maxCompiled = 256
