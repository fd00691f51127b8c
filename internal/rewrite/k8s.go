package rewrite

import (
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// podSpecPaths says where each built-in workload kind keeps its pod spec, and
// which API groups the kind belongs to (a CRD may reuse a kind's name).
var podSpecPaths = map[string]struct {
	groups []string
	path   []string
}{
	"Pod":                   {[]string{""}, []string{"spec"}},
	"PodTemplate":           {[]string{""}, []string{"template", "spec"}},
	"ReplicationController": {[]string{""}, []string{"spec", "template", "spec"}},
	"Deployment":            {[]string{"apps", "extensions"}, []string{"spec", "template", "spec"}},
	"StatefulSet":           {[]string{"apps"}, []string{"spec", "template", "spec"}},
	"DaemonSet":             {[]string{"apps", "extensions"}, []string{"spec", "template", "spec"}},
	"ReplicaSet":            {[]string{"apps", "extensions"}, []string{"spec", "template", "spec"}},
	"Job":                   {[]string{"batch"}, []string{"spec", "template", "spec"}},
	"CronJob":               {[]string{"batch"}, []string{"spec", "jobTemplate", "spec", "template", "spec"}},
}

// opaqueKinds hold data, not workloads, or schemas of other kinds.
var opaqueKinds = map[string]bool{"ConfigMap": true, "Secret": true, "CustomResourceDefinition": true}

func group(apiVersion string) string {
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}

// object scans one Kubernetes object (or a List of them).
func (w *yamlWalk) object(root *yaml.Node) {
	apiVersion, kind := w.str(root, "apiVersion"), w.str(root, "kind")
	if apiVersion == "" || kind == "" || opaqueKinds[kind] {
		return
	}
	if (kind == "Kustomization" || kind == "Component") && strings.HasPrefix(apiVersion, "kustomize.config.k8s.io/") {
		w.kustomization(root)
		return
	}
	if w.gitops(root, apiVersion, kind) {
		return
	}
	if strings.HasSuffix(kind, "List") {
		if _, list := w.field(root, "items"); deref(list) != nil && deref(list).Kind == yaml.SequenceNode {
			for _, it := range items(list, yaml.SequenceNode) {
				if it = deref(it); it != nil && it.Kind == yaml.MappingNode && w.once(it) {
					w.object(it)
				}
			}
			return
		}
	}
	if p, ok := podSpecPaths[kind]; ok && contains(p.groups, group(apiVersion)) {
		spec := root
		for _, key := range p.path {
			_, spec = w.field(spec, key)
		}
		w.podSpec(spec)
		return
	}
	w.generic(root, true)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var containerKinds = []struct {
	key  string
	kind Kind
}{
	{"initContainers", KindInitContainer},
	{"containers", KindContainer},
	{"ephemeralContainers", KindEphemeralContainer},
}

// podSpec scans a pod spec's containers and image volumes.
func (w *yamlWalk) podSpec(spec *yaml.Node) {
	spec = deref(spec)
	if spec == nil || spec.Kind != yaml.MappingNode {
		return
	}
	for _, ck := range containerKinds {
		_, list := w.field(spec, ck.key)
		for _, c := range items(list, yaml.SequenceNode) {
			w.container(c, ck.kind)
		}
	}
	_, vols := w.field(spec, "volumes")
	for _, v := range items(vols, yaml.SequenceNode) {
		_, img := w.field(v, "image")
		if _, ref := w.field(img, "reference"); ref != nil {
			w.add(w.site(ref, KindImageVolume))
		}
	}
}

// container scans one container: its image, and where imagePullPolicy lives.
func (w *yamlWalk) container(c *yaml.Node, kind Kind) {
	if !w.once(c) {
		return
	}
	c = deref(c)
	if c.Kind != yaml.MappingNode {
		return
	}
	k, v := w.field(c, "image")
	if k == nil {
		return
	}
	s := w.site(v, kind)
	if s == nil {
		return
	}
	w.add(s)
	ct := &container{flow: c.Style&yaml.FlowStyle != 0}
	pk, pv := w.field(c, "imagePullPolicy")
	if pk != nil {
		ct.hasPolicy = true
		if t := deref(pv); t != nil && t.Kind == yaml.ScalarNode {
			s.PullPolicy = strings.Clone(t.Value)
			if pv.Kind == yaml.ScalarNode { // not through an alias: safe to edit here
				if sp, _, err := w.f.locate(pv); err == nil {
					ct.policy = sp
				}
			}
		}
		s.container = ct
		return
	}
	var ok bool
	if ct.flow {
		ct.after, ok = w.f.valueEnd(v)
	} else {
		ct.lineEnd, ct.eol, ct.indent, ok = w.blockSlot(k, v)
	}
	if ok {
		s.container = ct
	}
}

// generic scans another kind's object for any "image" key holding a string.
// metadata (labels, annotations) is no place for images. Each mapping and
// sequence is visited once, however many aliases lead to it.
func (w *yamlWalk) generic(n *yaml.Node, top bool) {
	if n = w.enter(n); n == nil {
		return
	}
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			w.generic(c, false)
		}
		return
	}
	for _, kv := range w.pairs(n) {
		k, v := kv[0], kv[1]
		if top && k.Value == "metadata" {
			continue
		}
		if t := stringValue(v); t != nil && k.Value == "image" {
			if w.once(t) { // one value merged into many mappings is one site
				w.add(w.site(v, KindCustomResource))
			}
			continue
		}
		w.generic(v, false)
	}
}
