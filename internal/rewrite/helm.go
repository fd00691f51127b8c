package rewrite

import (
	"path"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Helm values: data that a chart's templates turn into image references.
// A value is pinned so that the template renders repo:tag@sha256:..., or
// repo@sha256:... where the chart drops the tag once a digest is set.

// Reasons a Helm image is left alone.
const (
	ReasonNoRepository = "no repository: the chart's templates supply it"
	// ReasonAppVersionTag begins why a tag the chart takes from its
	// appVersion is not written into its values.
	ReasonAppVersionTag = "the tag comes from the chart's appVersion, and "
	ReasonNoAppVersion  = "no tag, and Chart.yaml has no appVersion to take it from"
	ReasonBareName      = "a name without tag or digest: in values, the templates build the reference around it"
	ReasonNotString     = "not a string"
)

var bareHexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func isHelmValues(n fileName, c *Context) bool {
	if !n.yaml || c.chartIn(n.dir) == nil {
		return false
	}
	base := n.lower
	if path.Base(n.dir) == "ci" && c.charts[n.dir] == nil {
		return strings.HasSuffix(strings.TrimSuffix(strings.TrimSuffix(base, ".yaml"), ".yml"), "values")
	}
	return strings.HasPrefix(base, "values")
}

// helmVals is what a walk of Helm values knows: the chart (for appVersion
// and the digest keys its templates read) and global.imageRegistry.
type helmVals struct {
	chart    *Chart
	registry string
}

// helmValues scans a chart's values file.
func (w *yamlWalk) helmValues(root *yaml.Node) {
	w.values(root, w.f.cx.chartOf(w.f.Path))
}

// values scans Helm values held in mapping root (a values file, or values
// inline in an Argo CD Application, a Flux HelmRelease or a kustomization).
func (w *yamlWalk) values(root *yaml.Node, chart *Chart) {
	hv := &helmVals{chart: chart}
	if _, g := w.field(root, "global"); g != nil {
		hv.registry = w.str(g, "imageRegistry")
	}
	w.valueNode(root, nil, hv)
}

func (w *yamlWalk) valueNode(n *yaml.Node, p []string, hv *helmVals) {
	if n = w.enter(n); n == nil {
		return
	}
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			w.valueNode(c, append(p[:len(p):len(p)], "[]"), hv)
		}
		return
	}
	if w.isImageMap(n, p) {
		w.imageMap(n, p, hv)
		return
	}
	for _, kv := range w.pairs(n) {
		k, v := kv[0], kv[1]
		if k.Value == "image" {
			if t := deref(v); t != nil && t.Kind == yaml.ScalarNode {
				if t.Tag == "!!str" && t.Value != "" && w.once(t) {
					s := w.site(v, KindHelmValue)
					s.helmOf().path = append(append([]string(nil), p...), "image")
					if s.Pinnable() && s.Ref.Tag == "" && s.Ref.Digest == "" {
						s.skip(ReasonBareName)
					}
					w.add(s)
				}
				continue
			}
		}
		if t := deref(v); t != nil && t.Kind == yaml.ScalarNode && t.Tag == "!!str" && v == t && w.f.Format == FormatHelmValues &&
			LooksLikeImage(t.Value) && w.once(t) {
			// a reference under a key no rule knows (global.imageK8S): a
			// candidate; whether it makes an image, the chart's render says
			s := w.site(v, KindHelmValue)
			s.helmOf().path = append(append([]string(nil), p...), k.Value)
			s.Loose = true
			w.add(s)
			continue
		}
		w.valueNode(v, append(p[:len(p):len(p)], k.Value), hv)
	}
}

// looseRE is a reference with a repository path and a tag or a digest, in
// distribution's grammar: a string under any key of a chart's values that
// reads so may name an image.
var looseRE = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/)?` +
	`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+` +
	`(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(?:@sha256:[0-9a-f]{64})?|@sha256:[0-9a-f]{64})$`)

// LooksLikeImage tells a string that reads as an image reference with a
// repository path ("org/name", "host/org/name") and a tag or a digest.
func LooksLikeImage(s string) bool { return looseRE.MatchString(s) }

// isImageMap tells a mapping that spells an image in parts: repository
// (with tag, digest or sha, or under a key naming an image), or image
// with a registry, or with a tag or digest under a key naming an image
// (ingress-nginx).
func (w *yamlWalk) isImageMap(m *yaml.Node, p []string) bool {
	has := func(key string) bool { k, _ := w.field(m, key); return k != nil }
	scalar := func(key string) bool {
		_, v := w.field(m, key)
		v = deref(v)
		return v != nil && v.Kind == yaml.ScalarNode
	}
	named := len(p) > 0 && strings.Contains(strings.ToLower(p[len(p)-1]), "image")
	switch {
	case scalar("repository"):
		return named || has("tag") || has("digest") || has("sha")
	case scalar("image") && (has("registry") || named && (has("tag") || has("digest"))):
		// registry + image, or image with its tag or digest under a key
		// naming an image (ingress-nginx, its registry left to a global)
		return true
	case named && scalar("name") && (has("tag") || has("version")):
		// {name, tag} (JupyterHub), {name, version}: under a key naming
		// an image; whether it makes one, the render decides
		return true
	}
	return false
}

// empty tells a value that holds nothing: null, or "".
func empty(v *yaml.Node) bool {
	v = deref(v)
	return v == nil || v.Kind == yaml.ScalarNode && (v.Tag == "!!null" || v.Value == "")
}

// imageMap makes the site of an image map.
func (w *yamlWalk) imageMap(m *yaml.Node, p []string, hv *helmVals) {
	repoK, repoV := w.field(m, "repository")
	if repoK == nil || empty(repoV) {
		// an empty repository the templates fill from the image's name
		// (cert-manager: imageRegistry, imageNamespace and name)
		if k, v := w.field(m, "image"); k != nil && !empty(v) {
			repoK, repoV = k, v
		} else if k, v := w.field(m, "name"); k != nil && !empty(v) {
			repoK, repoV = k, v
		}
	}
	tagK, tagV := w.field(m, "tag")
	if tagK == nil {
		tagK, tagV = w.field(m, "version")
	}
	digK, digV := w.field(m, "digest")
	if digK == nil {
		digK, digV = w.field(m, "sha")
	}
	repo := deref(repoV)
	anchor := repo // where the site is reported
	if t := deref(tagV); t != nil && t.Kind == yaml.ScalarNode && t.Line > 0 {
		anchor = t
	}
	s := &Site{Kind: KindHelmImage, Line: anchor.Line, Column: anchor.Column, helm: &helmPart{path: append([]string(nil), p...)}}
	done := func() {
		if w.f.src.ignored(s.Line) || w.f.src.ignored(repoK.Line) {
			s.skip(ReasonIgnored)
		}
		w.add(s)
	}
	if repo == nil || repo.Kind != yaml.ScalarNode || empty(repo) {
		// a repository the templates supply (traefik's repository: null,
		// defaulted in _helpers.tpl): in a chart, marked where it is
		// empty, the render tells the reference
		s.Written = "(" + strings.Join(p, ".") + ")"
		sp, space, ok := w.emptyValue(repoK, repoV)
		if hv.chart == nil || !ok {
			s.skip(ReasonNoRepository)
			done()
			return
		}
		s.Templated = true
		s.helmOf().mark, s.helm.markSpace = sp, space
	} else {
		full := repo.Value
		if reg := w.str(m, "registry"); reg != "" {
			full = strings.TrimSuffix(reg, "/") + "/" + full
		} else if hv.registry != "" {
			full = strings.TrimSuffix(hv.registry, "/") + "/" + full
		}
		s.Written = full
		if repoV.Kind == yaml.ScalarNode {
			if sp, _, err := w.f.locate(repo); err == nil {
				s.helmOf().mark = sp
			}
		}
	}

	// The tag: the map's own, or, where it has none, the chart's appVersion.
	t := deref(tagV)
	tag, fromAppVersion := "", false
	switch {
	case t != nil && t.Kind == yaml.ScalarNode && t.Tag == "!!str" && t.Value != "":
		tag = t.Value
	case t != nil && t.Kind == yaml.ScalarNode && t.Tag != "!!null" && t.Value != "":
		s.Written += ":" + t.Value
		s.skip("tag " + ReasonNotString + " (YAML reads it as " + strings.TrimPrefix(t.Tag, "!!") + "): quote it")
		done()
		return
	case t != nil && t.Kind != yaml.ScalarNode:
		s.skip("tag " + ReasonNotString)
		done()
		return
	}

	// Where the digest goes: the map's digest key, one the chart's
	// templates read (added), or the tag's end.
	d := deref(digV)
	hasDigestKey := digK != nil && d != nil && d.Kind == yaml.ScalarNode && d.Tag == "!!str"
	readsDigest := digK == nil && hv.chart.readsDigest(p)
	if tag == "" {
		switch {
		case hv.chart == nil || hv.chart.AppVersion == "":
			s.skip(ReasonNoAppVersion)
			done()
			return
		case !hasDigestKey && !readsDigest && hv.chart.NoAppVersionTags:
			s.skip(ReasonAppVersionTag + AnnotationAppVersionTags + " is off in Chart.yaml")
			done()
			return
		case !hasDigestKey && !readsDigest:
			// the tag the chart renders from appVersion, with the digest,
			// goes into the map's tag, marked as following appVersion
			slot, why := w.appVersionSlot(m, repoK, repoV, tagK, tagV, hv.chart.AppVersion)
			if !s.Templated {
				s.Written += ":" + hv.chart.AppVersion
				s.parse(w.f)
			}
			s.AppVersion = true
			if why != "" {
				s.skip(ReasonAppVersionTag + why)
			} else if s.Pinnable() {
				s.helmOf().slot = slot
				w.pullPolicy(m, s)
			}
			done()
			return
		}
		tag, fromAppVersion = hv.chart.AppVersion, true
	}
	written := ":" + tag
	switch {
	case hasDigestKey && bareHexRE.MatchString(d.Value):
		written += "@sha256:" + d.Value // the template writes "@sha256:" itself
		s.bare = true
	case hasDigestKey && d.Value != "":
		written += "@" + d.Value
	}
	if s.Templated {
		// no name to parse: the tag and digest as the values hold them
		// (the render gives the rest)
		s.Ref.Tag, s.Ref.Digest, _ = strings.Cut(strings.TrimPrefix(written, ":"), "@")
		if s.Ref.Digest == "" && strings.Contains(tag, "@") {
			s.Ref.Tag, s.Ref.Digest, _ = strings.Cut(tag, "@")
		}
	} else {
		s.Written += written
		s.parse(w.f)
	}
	if fromAppVersion {
		s.AppVersion = true
	}
	if s.Pinnable() && (hasDigestKey || readsDigest) && s.Ref.Digest == "" && strings.Contains(tag, "@") {
		s.skip(ReasonUneditable + ": a digest in the tag and a digest key")
	}
	if !s.Pinnable() {
		done()
		return
	}
	ok := true
	switch {
	case hasDigestKey:
		k := &digestKey{hasDigest: true}
		var err error
		k.digest, _, err = w.f.locate(digV)
		ok = err == nil && digV.Kind == yaml.ScalarNode
		s.digestKey = k
	case readsDigest:
		after, afterV := tagK, tagV
		if tagK == nil {
			after, afterV = repoK, repoV
		}
		k := &digestKey{flow: m.Style&yaml.FlowStyle != 0}
		if k.flow {
			k.after, ok = w.f.valueEnd(afterV)
		} else {
			k.lineEnd, k.eol, k.indent, ok = w.blockSlot(after, afterV)
		}
		s.digestKey = k
	default: // the tag's end: {{ .repository }}:{{ .tag }} renders repo:tag@sha256:...
		sp, _, err := w.f.locate(t)
		ok = err == nil && tagV.Kind == yaml.ScalarNode
		s.ref = sp
	}
	if !ok {
		s.digestKey = nil
		s.skip(ReasonUneditable)
		done()
		return
	}
	if t != nil && hv.chart != nil {
		w.appVersionMark(s, t, hv.chart)
	}
	w.pullPolicy(m, s)
	done()
}

// afterColon is the offset just past the colon that follows plain key k
// ("tag:" with nothing after it); false where k is quoted or its colon is
// not right after it.
func (w *yamlWalk) afterColon(k *yaml.Node) (int, bool) {
	d := w.f.src.data
	ko, ok := w.f.src.offset(k.Line, k.Column)
	if !ok || k.Style != 0 || ko+len(k.Value) >= len(d) || d[ko+len(k.Value)] != ':' {
		return 0, false
	}
	return ko + len(k.Value) + 1, true
}

// emptyValue is where a marker goes in place of the empty value v of key
// k: over null or ~, inside empty quotes, or after "k:" where nothing follows
// (space: the marker needs a space before it). ok is false where pinbot
// cannot tell (an alias, a flow mapping's key without a value).
func (w *yamlWalk) emptyValue(k, v *yaml.Node) (sp span, space, ok bool) {
	if k == nil || v == nil || v.Kind != yaml.ScalarNode || !empty(v) {
		return span{}, false, false
	}
	d := w.f.src.data
	switch {
	case v.Tag == "!!null" && v.Value == "":
		at, ok := w.afterColon(k)
		if !ok {
			return span{}, false, false
		}
		if at < len(d) && d[at] != ' ' && d[at] != '\t' && d[at] != '\n' && d[at] != '\r' {
			return span{}, false, false // a flow mapping's "k:," or the like
		}
		return span{start: at, end: at, valid: true}, true, true
	default: // null, ~, "", ''
		sp, _, err := w.f.locate(v)
		return sp, false, err == nil
	}
}

// pullPolicy notes an image map's pullPolicy, which follows --pull-policy.
func (w *yamlWalk) pullPolicy(m *yaml.Node, s *Site) {
	if pk, pv := w.field(m, "pullPolicy"); pk != nil {
		if t := deref(pv); t != nil && t.Kind == yaml.ScalarNode {
			s.PullPolicy = strings.Clone(t.Value)
			ct := &container{hasPolicy: true}
			if pv.Kind == yaml.ScalarNode {
				if sp, _, err := w.f.locate(pv); err == nil {
					ct.policy = sp
				}
			}
			s.container = ct
		}
	}
}

// appVersionMarkRE is the mark pinbot leaves on a tag it took from the
// chart's appVersion: "# pinbot:appVersion=1.2.3".
var appVersionMarkRE = regexp.MustCompile(`#\s*pinbot:appVersion=(\S+)`)

// appVersionSlot finds where the tag a chart takes from appVersion goes
// in image map m: into an empty tag (tag: "", tag: null or ~, or tag:
// with nothing), or a new tag line after the repository; "" or why there
// is no room.
func (w *yamlWalk) appVersionSlot(m, repoK, repoV, tagK, tagV *yaml.Node, appVersion string) (*tagSlot, string) {
	slot := &tagSlot{appVersion: appVersion}
	d := w.f.src.data
	flow := m.Style&yaml.FlowStyle != 0
	// room tells whether the mark has room on the line after the value
	// (which ends at from): the line's end, or after a comment the line
	// already carries (kept as it is); markAt is set for the latter.
	room := func(from int) string {
		if flow {
			return "its empty tag is in a flow mapping: no room to mark it as following appVersion"
		}
		i := from
		for i < len(d) && (d[i] == ' ' || d[i] == '\t') {
			i++
		}
		if i == len(d) || d[i] == '\n' || d[i] == '\r' {
			return ""
		}
		if d[i] != '#' || i == from {
			return "its empty tag shares its line: no room to mark it as following appVersion"
		}
		end := i
		for end < len(d) && d[end] != '\n' && d[end] != '\r' {
			end++
		}
		comment := strings.TrimRight(string(d[i:end]), " \t")
		if strings.Contains(comment, "@schema") && !strings.HasSuffix(comment, "]") {
			// helm-values-schema-json reads "# @schema key:value" to the
			// line's end: a mark after it would join the value
			return "its empty tag's line carries a schema annotation (" + comment + ") that a mark after it would change"
		}
		slot.markAt = i + len(comment)
		return ""
	}
	switch t := deref(tagV); {
	case tagK == nil:
		if flow {
			return nil, "a flow mapping without a tag key"
		}
		var ok bool
		slot.lineEnd, slot.eol, slot.indent, ok = w.blockSlot(repoK, repoV)
		if !ok {
			return nil, "no line to add its tag after"
		}
		slot.newLine = true
	case tagV != t:
		return nil, "its tag is an alias"
	case t.Tag == "!!null" && t.Value == "":
		// tag: with nothing after it: the value goes after the colon
		at, ok := w.afterColon(tagK)
		if !ok {
			return nil, "its empty tag cannot be written into"
		}
		if why := room(at); why != "" {
			return nil, why
		}
		slot.at, slot.end, slot.quote = at, at, true
	case t.Tag == "!!null" && t.Style == 0:
		// tag: null, tag: ~ (loki-canary): the null gives way to the value
		sp, after, err := w.f.locate(t)
		if err != nil {
			return nil, "its empty tag cannot be written into"
		}
		if why := room(after); why != "" {
			return nil, why
		}
		slot.at, slot.end, slot.null = sp.start, sp.end, true
	default:
		sp, after, err := w.f.locate(t)
		if err != nil || t.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
			return nil, "its empty tag cannot be written into"
		}
		if why := room(after); why != "" {
			return nil, why
		}
		slot.at, slot.end = sp.start, sp.end
		if slot.markAt == 0 {
			slot.markAt = after
		}
	}
	return slot, ""
}

// appVersionMark reads the mark of a tag pinbot took from appVersion: the
// tag follows appVersion, and when Chart.yaml's appVersion is no longer
// the one marked, the tag moves with it (the marked version replaced by
// the new one in the tag), digest and mark renewed.
func (w *yamlWalk) appVersionMark(s *Site, t *yaml.Node, ch *Chart) {
	line := w.f.src.text(t.Line)
	m := appVersionMarkRE.FindSubmatchIndex(line)
	if m == nil || !s.Pinnable() {
		return
	}
	s.AppVersion = true
	marked := string(line[m[2]:m[3]])
	if ch.AppVersion == "" || ch.AppVersion == marked || s.Ref.Tag == "" {
		return
	}
	if !strings.Contains(s.Ref.Tag, marked) {
		s.skip("its tag " + s.Ref.Tag + " does not hold the appVersion " + marked + " it was pinned at: write the tag for appVersion " + ch.AppVersion + " by hand")
		return
	}
	start, ok := w.f.src.offset(t.Line, 1)
	sp, _, err := w.f.locate(t)
	if !ok || err != nil {
		s.skip(ReasonUneditable)
		return
	}
	s.helmOf().slot = &tagSlot{at: sp.start, end: sp.end, appVersion: ch.AppVersion,
		mark: span{start: start + m[2], end: start + m[3], valid: true}, moveTo: strings.Replace(s.Ref.Tag, marked, ch.AppVersion, 1)}
}
