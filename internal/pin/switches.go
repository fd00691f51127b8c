package pin

import (
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/pinbot/pinbot/internal/render"
	"github.com/pinbot/pinbot/internal/safetext"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// An image behind a switch (metrics.enabled: false, a subchart its parent
// disables) is deployed by every user who turns the switch on, yet no
// values set the chart ships renders it. So for the images no set
// renders, pinbot turns on the switches above them, in the chart's
// values.yaml and a subchart's own (every enabled: false in the maps on
// the way down to the image), renders once more with them on, and judges
// and proves those images by that render, named as the set it is.

// switchOn renders chart j with the switches above its unrendered images
// turned on (marked: its files with markers over the image values; ids:
// which value each marker stands for), and records where the markers land
// as one more values set.
func (r *run) switchOn(j *chartJudge, ids []siteRef, marked render.Files) {
	defaults := loadValues(j.files["values.yaml"])
	on := map[string][]string{}
	for _, id := range ids {
		if j.sites[id] != nil || id.f.plans[id.site].key == "" {
			continue
		}
		site := id.f.file.Sites[id.site]
		prefix, own := subchartOf(j.rel(id.f.file.Path))
		var found [][]string
		if prefix == "" {
			found = switchesAbove(defaults, site.ValuePath())
		} else {
			found = switchesAbove(defaults, append([]string{prefix}, site.ValuePath()...))
			for _, sw := range switchesAbove(loadValues(j.files[own]), site.ValuePath()) {
				found = append(found, append([]string{prefix}, sw...))
			}
			found = append(found, dependencySwitches(j.files["Chart.yaml"], defaults, prefix)...)
		}
		for _, sw := range found {
			on[strings.Join(sw, ".")] = sw
		}
	}
	if len(on) == 0 {
		return
	}
	overlay := map[string]any{}
	for _, sw := range on {
		set(overlay, sw, true)
	}
	data, err := yaml.Marshal(overlay)
	if err != nil {
		return
	}
	vs := &valueSet{switches: slices.Sorted(maps.Keys(on)), overlay: data}
	n := len(j.sets)
	j.sets = append(j.sets, vs)
	vs.before, vs.err = r.opts.Renderer.Render(r.ctx, j.files, data)
	if vs.err == nil {
		var vals []render.Value
		if vals, vs.err = render.Values(vs.before); vs.err == nil {
			vs.values = map[string]render.Value{}
			for _, v := range vals {
				vs.values[v.Slot] = v
			}
		}
	}
	if vs.err != nil {
		j.switchErr = vs.name() + ": " + safetext.Term(firstLine(vs.err.Error()))
		return
	}
	out, err := r.opts.Renderer.Render(r.ctx, marked, data)
	var vals []render.Value
	if err == nil {
		vals, err = render.Values(out)
	}
	if err != nil {
		// with the switches on, the markers break it: those images stay unjudged
		vs.err = err
		j.switchErr = vs.name() + " with markers: " + safetext.Term(firstLine(err.Error()))
		return
	}
	j.land(n, vals, ids)
}

// loadValues reads a values file as a tree of maps; nil when it is not one.
func loadValues(data []byte) map[string]any {
	var m map[string]any
	if yaml.Unmarshal(data, &m) != nil {
		return nil
	}
	return m
}

// subchartOf tells a file of a subchart vendored in the chart (by its path
// in the chart): the key its values sit under in the parent's, and its own
// values.yaml; "" for the chart's own files.
func subchartOf(rel string) (key, values string) {
	parts := strings.Split(rel, "/")
	if len(parts) < 3 || parts[0] != "charts" {
		return "", ""
	}
	return parts[1], path.Join("charts", parts[1], "values.yaml")
}

// dependencySwitches are the values that enable the subchart key in the
// parent's Chart.yaml and are off in its values: its condition's paths,
// and tags.<tag> for each of its tags.
func dependencySwitches(chartYAML []byte, values map[string]any, key string) [][]string {
	var meta struct {
		Dependencies []struct {
			Name      string   `yaml:"name"`
			Alias     string   `yaml:"alias"`
			Condition string   `yaml:"condition"`
			Tags      []string `yaml:"tags"`
		} `yaml:"dependencies"`
	}
	if yaml.Unmarshal(chartYAML, &meta) != nil {
		return nil
	}
	var out [][]string
	off := func(p []string) bool {
		var v any = values
		for _, k := range p {
			m, ok := v.(map[string]any)
			if !ok {
				return false
			}
			v = m[k]
		}
		b, ok := v.(bool)
		return ok && !b
	}
	for _, d := range meta.Dependencies {
		if d.Name != key && d.Alias != key {
			continue
		}
		for _, c := range strings.Split(d.Condition, ",") {
			if p := strings.Split(strings.TrimSpace(c), "."); c != "" && off(p) {
				out = append(out, p)
			}
		}
		for _, t := range d.Tags {
			if p := []string{"tags", t}; off(p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// switchesAbove are the "enabled: false" values in the maps on the way
// down values to the value at p (not past a list).
func switchesAbove(values map[string]any, p []string) [][]string {
	var out [][]string
	m := values
	for i, k := range p {
		if m == nil || k == "[]" {
			break
		}
		if i > 0 {
			if on, ok := m["enabled"].(bool); ok && !on {
				out = append(out, append(slices.Clone(p[:i]), "enabled"))
			}
		}
		next, _ := m[k].(map[string]any)
		m = next
	}
	return out
}
