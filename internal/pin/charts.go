package pin

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pinbot/pinbot/internal/imageref"
	"github.com/pinbot/pinbot/internal/render"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/pinbot/pinbot/internal/rewrite"
	"github.com/pinbot/pinbot/internal/safetext"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Helm charts are judged by Helm itself. A chart's values are only data
// until a template reads them, so for each chart of the checkout (not one
// vendored under another's charts/, which is judged through its parent, as
// it is deployed), pinbot renders the chart with its values.yaml and with
// each other values file it would edit, then once more with a marker
// written over each value that names an image. Where a marker lands tells
// which rendered image the value makes; the untouched render tells that
// image's reference exactly (the parent's repository, the v-prefixed tag,
// the global registry), and that reference is what is resolved. Once the
// edits are made, the chart is rendered again: its files are kept only if
// every image pinbot meant to pin renders as the same reference with its
// digest, and nothing else renders differently but for what differs
// between two renders of the untouched chart (random passwords,
// certificates). Otherwise its files stay as they were, and each pin is a
// failure naming the value, the render before and after, and why.

// Reasons a chart's image is left alone.
const (
	ReasonNotRendered = "not rendered: no template of the chart makes an image of it with its values files"
	ReasonNoRender    = "the chart does not render"
	// ReasonInsideString: the value lands in no image field, only inside
	// a longer string; what reads that string is the chart's business.
	ReasonInsideString = "renders only inside a command, argument or environment string, not as an image field"
)

// NoteUnverified marks a Helm image with no chart to render: its pin
// follows pinbot's rules for values, not a render.
const NoteUnverified = "not verified by rendering: no chart here to render"

// chartJudge is one chart being judged.
type chartJudge struct {
	dir     string
	files   render.Files // as the checkout holds them
	members []*fileRun   // its files with sites
	sets    []*valueSet
	// By judged site: the reference it renders, and where (set, slot).
	sites map[siteRef]*renderedSite
	// notJudged says why the chart as a whole was not judged.
	notJudged string
	// switchErr says why the set with switches on did not render.
	switchErr string
	// cluster are the image fields (by set and slot) the chart renders
	// otherwise for another Kubernetes version: what they render there.
	cluster map[setSlot]string
	// unowned are the images the chart renders that no value of the
	// checkout makes (a packaged subchart's, a template's own), each with
	// where it comes from: left as they are, and said.
	unowned map[string]string
}

// siteRef is a site of a file of the run.
type siteRef struct {
	f    *fileRun
	site int
}

type renderedSite struct {
	ref   string
	slots []setSlot
}

type setSlot struct {
	set  int
	slot string
}

// valueSet is one "helm template" of the chart: values.yaml alone, or with
// one more values file.
type valueSet struct {
	file string // chart-relative; "" for values.yaml alone
	// switches, for a set of pinbot's own: values that turn on images no
	// set the chart ships renders ("metrics.enabled"), as a values file
	switches []string
	// deployedBy, for a set a GitOps resource of the checkout deploys the
	// chart with: which ("Application deploy/app.yaml:1")
	deployedBy string
	overlay    []byte
	before     map[string]string // the untouched chart, rendered
	// again is the untouched chart rendered once more, made when a proof
	// first needs it: what differs from before is random.
	again     map[string]string
	againOnce sync.Once
	values    map[string]render.Value // by slot, in before
	err       error                   // the chart does not render so
}

func (vs *valueSet) name() string {
	switch {
	case len(vs.switches) > 0:
		return "values.yaml with " + strings.Join(vs.switches, ", ") + " on"
	case vs.deployedBy != "":
		return "values.yaml with the values of " + vs.deployedBy
	case vs.file == "":
		return "values.yaml"
	}
	return vs.file
}

// valuesIn is the values file the set renders with on top of values.yaml,
// from the chart's files as they are (nil: none).
func (vs *valueSet) valuesIn(files render.Files) []byte {
	if vs.overlay != nil {
		return vs.overlay
	}
	return files[vs.file]
}

// isValuesSet tells a chart's file (by its path in the chart) that is a
// values set the chart ships: values*.yaml beside Chart.yaml (but
// values.yaml, always rendered), ci/*values.yaml.
func isValuesSet(rel string) bool {
	ext := path.Ext(rel)
	if ext != ".yaml" && ext != ".yml" {
		return false
	}
	base := strings.TrimSuffix(path.Base(rel), ext)
	switch path.Dir(rel) {
	case ".":
		return strings.HasPrefix(base, "values") && base != "values"
	case "ci":
		return strings.HasSuffix(base, "values")
	}
	return false
}

// isChartFile tells the files whose sites a chart's render judges.
func isChartFile(f *rewrite.File) bool {
	return f.Format == rewrite.FormatHelmValues || f.Format == rewrite.FormatHelmTemplate
}

// within tells a path inside directory dir ("." holds everything).
func within(p, dir string) bool { return dir == "." || strings.HasPrefix(p, dir+"/") }

// vendored tells a chart under another chart's charts/ directory.
func vendored(dir string, all map[string]bool) bool {
	for d := path.Dir(dir); d != "." && d != "/"; d = path.Dir(d) {
		if path.Base(d) == "charts" && all[path.Dir(d)] {
			return true
		}
	}
	return false
}

// judgeCharts renders every chart that holds sites, and plans each of its
// sites on the reference the chart renders (or leaves it alone, saying
// why). Helm values with no chart to render keep pinbot's rules, and say so.
func (r *run) judgeCharts() {
	all := map[string]bool{}
	for _, ch := range r.cx.Charts() {
		all[ch.Dir] = true
	}
	judged := map[*fileRun]bool{}
	for _, ch := range r.cx.Charts() {
		if vendored(ch.Dir, all) {
			continue
		}
		j := &chartJudge{dir: ch.Dir, sites: map[siteRef]*renderedSite{}}
		for _, fr := range r.files {
			if fr.file != nil && isChartFile(fr.file) && within(fr.file.Path, ch.Dir) && !judged[fr] && fr.anyPlanned() {
				j.members = append(j.members, fr)
			}
		}
		if len(j.members) == 0 {
			continue
		}
		for _, fr := range j.members {
			judged[fr], fr.inChart = true, true
		}
		r.judge(j)
		r.charts = append(r.charts, j)
	}
	for _, fr := range r.files {
		if fr.file == nil || judged[fr] {
			continue
		}
		for k, site := range fr.file.Sites {
			if p := &fr.plans[k]; site.Templated && p.key != "" {
				p.key, p.skip = "", rewrite.ReasonNoRepository // only a render names it
				continue
			}
			switch site.Kind {
			case rewrite.KindHelmImage, rewrite.KindHelmValue, rewrite.KindHelmTemplate:
				if p := &fr.plans[k]; p.key != "" && p.noted() == "" {
					p.more().note = NoteUnverified
				}
			}
		}
	}
}

func (fr *fileRun) anyPlanned() bool {
	for _, p := range fr.plans {
		if p.key != "" {
			return true
		}
	}
	return false
}

// rel is a member file's path relative to its chart.
func (j *chartJudge) rel(p string) string {
	if j.dir == "." {
		return p
	}
	return strings.TrimPrefix(p, j.dir+"/")
}

// skipAll leaves every planned site of the chart alone, for reason: the
// chart is not judged.
func (r *run) skipAll(j *chartJudge, reason string) {
	j.notJudged = reason
	for _, fr := range j.members {
		for k := range fr.plans {
			if p := &fr.plans[k]; p.key != "" {
				p.key, p.skip = "", reason
				p.hidden = fr.file.Sites[k].Loose // no render said it is an image
			}
		}
	}
}

// markerRE finds the markers written over values: pinbotmark<n>z.
var markerRE = regexp.MustCompile(`pinbotmark([0-9]+)z`)

// judge renders chart j with every values set it ships or is deployed
// with, marks its image values to see which rendered field each makes, and
// settles each value on the reference it renders, or why it is left.
func (r *run) judge(j *chartJudge) {
	files, err := r.co.ReadTree(j.dir)
	if err != nil {
		r.skipAll(j, "the chart could not be read to render it: "+err.Error())
		return
	}
	j.files = files
	j.sets = r.valueSets(j.dir, files)
	if r.renderSets(j) == 0 {
		r.skipAll(j, ReasonNoRender+" with "+j.sets[0].name()+": "+safetext.Term(firstLine(j.sets[0].err.Error())))
		return
	}
	r.probeCluster(j)

	// A marker over each value that names an image, all in one copy. Its
	// NOTES.txt are left out: they are no manifests, and charts check
	// their values there (a repository they do not know is an error).
	// Values found by their form alone are marked too, unless the chart
	// does not render with them marked: then they are let go (they were
	// never known to be images) and the chart is marked without them.
	marked, ids, markedVals, why := r.mark(j, files, markAll)
	if why != "" && ids != nil {
		marked, ids, markedVals, why = r.mark(j, files, markKnown)
	}
	if why != "" {
		r.skipAll(j, why)
		return
	}
	for n, vals := range markedVals {
		if vals != nil {
			j.land(n, vals, ids)
		}
	}
	// Images no set the chart ships renders: on with the switches above
	// them (enabled: false), in one more set of pinbot's own.
	r.switchOn(j, ids, marked)
	ids = append(ids, r.markTemplated(j, files)...)
	j.findUnowned()
	for _, id := range ids {
		j.settle(id)
	}
}

// owned are the rendered fields the chart's values claim so far.
func (j *chartJudge) owned() map[setSlot]bool {
	owned := map[setSlot]bool{}
	for _, rs := range j.sites {
		for _, ss := range rs.slots {
			owned[ss] = true
		}
	}
	return owned
}

// markTemplated marks, in renders of their own, the image maps whose
// repository the templates supply (repository: null): a marker there
// makes the templates take it over whatever they would use instead (a
// global's repository, argo-events'), so such a value claims only image
// fields no other value makes. It returns their ids; one that claims none
// is left (see settle).
func (r *run) markTemplated(j *chartJudge, files render.Files) []siteRef {
	if !slices.ContainsFunc(j.members, func(fr *fileRun) bool {
		return slices.ContainsFunc(fr.file.Sites, func(s *rewrite.Site) bool { return s.Templated })
	}) {
		return nil
	}
	owned := j.owned()
	// only the sets that render an image no value makes are rendered
	// again; none: the values are left, with no render of their own
	unclaimed := map[int]bool{}
	for n, vs := range j.sets {
		for slot, v := range vs.values {
			if vs.err == nil && v.Image && !owned[setSlot{n, slot}] && isReference(v.Text) {
				unclaimed[n] = true
				break
			}
		}
	}
	_, ids, markedVals, why := r.markIn(j, files, markTemplated, unclaimed)
	if len(ids) == 0 || len(unclaimed) == 0 || why != "" {
		return ids // nothing rendered, or the chart checks the value's form: no render names one
	}
	for n, vals := range markedVals {
		if vals != nil {
			j.land(n, vals, ids)
		}
	}
	for _, id := range ids {
		if rs := j.sites[id]; rs != nil {
			rs.slots = slices.DeleteFunc(rs.slots, func(ss setSlot) bool { return owned[ss] })
			if len(rs.slots) == 0 {
				delete(j.sites, id)
			}
		}
	}
	return ids
}

// valueSets are the values sets chart dir is judged with: values.yaml
// alone, and with each values set the chart ships (every other
// values*.yaml beside Chart.yaml, and every ci/*values.yaml, chart-testing's),
// whether pinbot edits it or not; and with the values each GitOps resource
// of the checkout deploys it with.
func (r *run) valueSets(dir string, files render.Files) []*valueSet {
	sets := []*valueSet{{}}
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		if isValuesSet(rel) {
			sets = append(sets, &valueSet{file: rel})
		}
	}
	for _, d := range r.deployments(dir, files) {
		if len(d.values) == 0 {
			continue
		}
		if data, err := yaml.Marshal(d.values); err == nil {
			sets = append(sets, &valueSet{deployedBy: d.name, overlay: data})
		}
	}
	return sets
}

// renderSets renders the chart untouched with each of its sets, and
// returns how many rendered.
func (r *run) renderSets(j *chartJudge) (rendered int) {
	eachSet(len(j.sets), func(n int) {
		vs := j.sets[n]
		vs.before, vs.err = r.opts.Renderer.Render(r.ctx, j.files, vs.valuesIn(j.files))
		if vs.err == nil {
			var vals []render.Value
			vals, vs.err = render.Values(vs.before)
			vs.values = map[string]render.Value{}
			for _, v := range vals {
				vs.values[v.Slot] = v
			}
		}
	})
	for _, vs := range j.sets {
		if vs.err == nil {
			rendered++
		}
	}
	return rendered
}

// settle decides a marked value's rendered reference: one, or it is left
// alone, saying why.
func (j *chartJudge) settle(id siteRef) {
	p := &id.f.plans[id.site]
	site := id.f.file.Sites[id.site]
	rs := j.sites[id]
	if site.Loose && rs != nil && !j.looseImage(rs) {
		rs = nil
		delete(j.sites, id)
	}
	if rs == nil && site.Loose {
		p.key, p.hidden = "", true // found by its form alone, and no image
		return
	}
	if rs == nil && site.Templated {
		p.key, p.skip = "", rewrite.ReasonNoRepository // nor does a render name one
		return
	}
	if rs == nil {
		p.key, p.skip = "", j.notRendered(id.f.file.Path)
		return
	}
	ref, why := j.renderedRef(rs, id.f.file.Path)
	if why == "" {
		why = j.followsCluster(rs)
	}
	if why == "" {
		if _, err := imageref.Parse(ref); err != nil {
			why = "renders as " + safetext.Term(ref) + ": " + err.Error()
		}
	}
	if why == "" {
		p.key = ref
		if ref != site.Written {
			p.more().note = "the chart renders it as " + ref
		}
		if site.TagSlot() {
			why = appVersionTag(p, site, ref)
		}
	}
	if why != "" {
		p.key, p.skip = "", why
		delete(j.sites, id)
	}
}

// looseImage keeps, of a value found by its form alone, the slots where it
// lands in an image field, and tells whether there are any: only there is
// it an image.
func (j *chartJudge) looseImage(rs *renderedSite) bool {
	var slots []setSlot
	for _, ss := range rs.slots {
		if v, ok := j.sets[ss.set].values[ss.slot]; ok && v.Image {
			slots = append(slots, ss)
		}
	}
	rs.slots = slots
	return len(slots) > 0
}

// renderedRef is the one reference a value renders: where it lands in an
// image field, or in any other string the untouched chart renders as a
// reference with a tag or a digest (an environment variable naming an
// image). It keeps those slots; else it says why the value is left.
func (j *chartJudge) renderedRef(rs *renderedSite, file string) (string, string) {
	refs := map[string]bool{}
	var slots []setSlot
	for _, ss := range rs.slots {
		v, ok := j.sets[ss.set].values[ss.slot]
		if !ok || !v.Image && !isReference(v.Text) {
			continue
		}
		refs[v.Text] = true
		slots = append(slots, ss)
	}
	switch {
	case len(refs) == 0 && len(rs.slots) > 0:
		v := j.sets[rs.slots[0].set].values[rs.slots[0].slot]
		return "", ReasonInsideString + " (" + safetext.Term(v.Slot) + ": " + safetext.Term(v.Text) + ")"
	case len(refs) == 0:
		return "", j.notRendered(file)
	case len(refs) > 1:
		list := slices.Sorted(maps.Keys(refs))
		return "", "feeds different rendered references (" + safetext.Term(strings.Join(list, ", ")) + "): pin each where it renders"
	}
	rs.slots = slots
	for ref := range refs {
		rs.ref = ref
	}
	return rs.ref, ""
}

// appVersionTag plans the tag written with the digest of a value whose tag
// the chart renders from appVersion (ref): that tag, or, for a marked tag
// whose appVersion moved, the tag it moves to. It says why not, if not.
func appVersionTag(p *sitePlan, site *rewrite.Site, rendered string) string {
	ref, _ := imageref.Parse(rendered)
	if moved := site.MovedTag(); moved != "" {
		ref.Tag, ref.Digest = moved, ""
		p.key = ref.String()
		p.more().note = "the chart's appVersion moved: its tag follows, to " + moved
	}
	if ref.Tag == "" || ref.Digest != "" {
		return "renders as " + safetext.Term(rendered) + ": no tag of its own to write with the digest"
	}
	if v := site.SlotAppVersion(); site.MovedTag() == "" && !strings.Contains(ref.Tag, v) {
		// the tag is another value's (strimzi's defaultImageTag): written
		// here, it would hold this image when that value moves
		return "renders as " + safetext.Term(rendered) + ": its tag comes from another value than the chart's appVersion " + safetext.Term(v) + ", which a tag written here would override"
	}
	p.more().tag = ref.Tag
	return ""
}

// chartReport says, for each chart holding image values, whether it was
// judged and what came of its images, from the report's entries.
func (r *run) chartReport(rep *report.Report) []report.Chart {
	var out []report.Chart
	for _, j := range r.charts {
		c := report.Chart{Dir: j.dir, Judged: j.notJudged == "", Reason: j.notJudged}
		for _, ref := range slices.Sorted(maps.Keys(j.unowned)) {
			c.Unowned = append(c.Unowned, report.Unowned{Ref: ref, Reason: j.unowned[ref]})
		}
		c.Images, c.Left = len(c.Unowned), len(c.Unowned)
		if !c.Judged && r.opts.Filter != nil && r.opts.Filter.IgnoredChart(j.dir) {
			c.Ignored = true
		}
		for _, vs := range j.sets {
			if vs.err == nil {
				name := "values.yaml"
				switch {
				case vs.file != "":
					name += " + " + vs.file
				case vs.overlay != nil:
					name = vs.name()
				}
				c.Sets = append(c.Sets, name)
			}
		}
		members := map[string]bool{}
		for _, fr := range j.members {
			members[fr.file.Path] = true
		}
		for _, e := range rep.Entries {
			if !members[e.File] || e.Reason == rewrite.ReasonVariable {
				continue
			}
			c.Images++
			switch e.Status {
			case report.Pinned, report.Updated, report.Current, report.Vanished, report.Held, report.Unverified:
				c.Pinned++
			default:
				c.Left++
			}
		}
		out = append(out, c)
	}
	return out
}

// findUnowned notes the images chart j renders (an image field holding a
// reference, in any set) that no value's marker reached: a packaged
// subchart's (charts/*.tgz, whose values pinbot does not write into), or
// one a template builds from no value.
func (j *chartJudge) findUnowned() {
	owned := j.owned()
	for n, vs := range j.sets {
		if vs.err != nil {
			continue
		}
		for slot, v := range vs.values {
			if !v.Image || owned[setSlot{n, slot}] || !isReference(v.Text) {
				continue
			}
			if j.unowned == nil {
				j.unowned = map[string]string{}
			}
			if _, ok := j.unowned[v.Text]; !ok {
				j.unowned[v.Text] = j.origin(slot)
			}
		}
	}
}

// origin says where a rendered image no value makes comes from, by the
// template that renders it (slot: "chart/charts/sub/templates/x.yaml#0...").
func (j *chartJudge) origin(slot string) string {
	tmpl, _, _ := strings.Cut(slot, "#")
	parts := strings.Split(tmpl, "/")
	if len(parts) > 3 && parts[1] == "charts" {
		for name := range j.files {
			if dir, file := path.Split(name); dir == "charts/" && strings.HasSuffix(file, ".tgz") && strings.HasPrefix(file, parts[2]) {
				return "from the packaged subchart " + name + ": pinbot does not write into an archive"
			}
		}
	}
	return "from " + tmpl + ", which renders it from no value pinbot can edit"
}

// probeCluster renders chart j as if the cluster ran another Kubernetes
// version, with each values set that renders an image field no set before
// it rendered (a Job only a ci/ file turns on), and notes each image field
// that renders otherwise there: a reference that follows the cluster (a
// kubectl whose tag is .Capabilities.KubeVersion) is right on no real
// cluster when pinned at Helm's default. A chart that does not render at
// the other version (its kubeVersion asks for a newer one) is not probed.
func (r *run) probeCluster(j *chartJudge) {
	probed := map[string]bool{} // image fields rendered by a set probed
	for n, vs := range j.sets {
		if vs.err != nil {
			continue
		}
		fresh := false
		for slot, v := range vs.values {
			if v.Image && !probed[slot] {
				fresh = true
				break
			}
		}
		if !fresh {
			continue
		}
		out, err := r.opts.Renderer.RenderAt(r.ctx, j.files, vs.valuesIn(j.files), render.OtherKubeVersion())
		if err != nil {
			return
		}
		vals, err := render.Values(out)
		if err != nil {
			return
		}
		for slot, v := range vs.values {
			if v.Image {
				probed[slot] = true
			}
		}
		for _, v := range vals {
			if was, ok := vs.values[v.Slot]; ok && was.Image && was.Text != v.Text {
				if j.cluster == nil {
					j.cluster = map[setSlot]string{}
				}
				j.cluster[setSlot{n, v.Slot}] = v.Text
			}
		}
	}
}

// followsCluster says why a rendered image is left alone when it renders
// otherwise for another Kubernetes version; "" when it does not.
func (j *chartJudge) followsCluster(rs *renderedSite) string {
	for _, ss := range rs.slots {
		if other, ok := j.cluster[ss]; ok {
			return fmt.Sprintf("follows the cluster: the chart renders %s for Kubernetes %s and %s for %s; pinned at one, it would be wrong on others",
				safetext.Term(rs.ref), render.DefaultKubeVersion(), safetext.Term(other), render.OtherKubeVersion())
		}
	}
	return ""
}

// Which values mark marks.
const (
	markAll       = iota // every value naming an image, those found by their form alone too
	markKnown            // those a rule knows
	markTemplated        // image maps whose repository the templates supply, alone
)

// mark writes a marker over each value of chart j that names an image
// (which: see markAll), renders every set with them, and returns the
// marked files, which value each marker stands for, and each set's
// rendered values; or why the chart cannot be judged so (ids nil when no
// loose value was marked, so trying without them would change nothing).
// Image maps whose repository the templates supply are marked alone
// (markTemplated), and never with the others.
func (r *run) mark(j *chartJudge, files render.Files, which int) (render.Files, []siteRef, [][]render.Value, string) {
	return r.markIn(j, files, which, nil)
}

// markIn is mark, rendering only the sets only names (nil: all).
func (r *run) markIn(j *chartJudge, files render.Files, which int, only map[int]bool) (render.Files, []siteRef, [][]render.Value, string) {
	// NOTES.txt are left out: they are no manifests, and charts check
	// their values there (a repository they do not know is an error).
	marked := maps.Clone(files)
	for name := range marked {
		if path.Base(name) == "NOTES.txt" {
			delete(marked, name)
		}
	}
	var ids []siteRef
	anyLoose := false
	for _, fr := range j.members {
		f := fr.file
		var edits []rewrite.Edit
		for k, site := range f.Sites {
			p := &fr.plans[k]
			if p.key == "" || site.Templated != (which == markTemplated) {
				continue
			}
			if site.Loose && which == markKnown {
				p.key, p.hidden = "", true
				continue
			}
			start, end, space, ok := site.Mark()
			if !ok {
				p.key, p.skip = "", rewrite.ReasonUneditable+": pinbot cannot tell which rendered image it makes"
				continue
			}
			anyLoose = anyLoose || site.Loose
			marker := "pinbotmark" + strconv.Itoa(len(ids)) + "z"
			if space {
				marker = " " + marker
			}
			edits = append(edits, rewrite.Edit{Start: start, End: end, Text: marker})
			ids = append(ids, siteRef{fr, k})
		}
		out, err := rewrite.Apply(f.Data, edits)
		if err != nil {
			return nil, nil, nil, "pinbot cannot mark the chart's values: " + err.Error()
		}
		marked[j.rel(f.Path)] = out
	}
	markedVals := make([][]render.Value, len(j.sets))
	markedErrs := make([]error, len(j.sets))
	eachSet(len(j.sets), func(n int) {
		if vs := j.sets[n]; vs.err == nil && (only == nil || only[n]) {
			out, err := r.opts.Renderer.Render(r.ctx, marked, vs.valuesIn(marked))
			if err == nil {
				markedVals[n], err = render.Values(out)
			}
			markedErrs[n] = err
		}
	})
	for n, vs := range j.sets {
		if err := markedErrs[n]; vs.err == nil && err != nil {
			// a template that checks its values' form: judged as a whole, or not at all
			if !anyLoose && which != markTemplated {
				ids = nil
			}
			return nil, ids, nil, "the chart does not render with markers in place of its image values (" + vs.name() + ": " + safetext.Term(firstLine(err.Error())) + ")"
		}
	}
	return marked, ids, markedVals, ""
}

// land records, for set n's render with markers, where each marker (each
// value ids names) lands.
func (j *chartJudge) land(n int, vals []render.Value, ids []siteRef) {
	for _, v := range vals {
		for _, m := range markerRE.FindAllStringSubmatch(v.Text, -1) {
			k, _ := strconv.Atoi(m[1])
			if k >= len(ids) {
				continue
			}
			rs := j.sites[ids[k]]
			if rs == nil {
				rs = &renderedSite{}
				j.sites[ids[k]] = rs
			}
			rs.slots = append(rs.slots, setSlot{n, v.Slot})
		}
	}
}

// isReference tells a string that is, whole, a reference to an image with
// a tag or a digest, in the grammar of distribution's references (a host
// of letters, digits, dots and dashes; lowercase path components): an
// argument such as "--reloader=quay.io/x:v1" that holds one is not.
func isReference(s string) bool {
	if !referenceRE.MatchString(s) {
		return false
	}
	r, err := imageref.Parse(s)
	return err == nil && (r.Tag != "" || r.Digest != "")
}

var referenceRE = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/)?` +
	`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*` +
	`(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$`)

// notRendered says why a value of file p makes no rendered image.
func (j *chartJudge) notRendered(p string) string {
	rel := j.rel(p)
	for _, vs := range j.sets {
		if vs.file == rel && vs.file != "" && vs.err != nil {
			return ReasonNoRender + " with " + rel + ": " + safetext.Term(firstLine(vs.err.Error()))
		}
	}
	if j.switchErr != "" {
		return ReasonNotRendered + "; turning on the switches above it, the chart does not render (" + j.switchErr + ")"
	}
	for _, vs := range j.sets {
		if len(vs.switches) > 0 {
			return ReasonNotRendered + ", nor with " + strings.Join(vs.switches, ", ") + " on"
		}
	}
	return ReasonNotRendered
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// withDigest are the two ways a chart may render ref with digest d: with
// its tag kept, or without it.
func withDigest(ref, d string) (kept, tagless string) {
	parsed, err := imageref.Parse(ref)
	if err != nil {
		return "", ""
	}
	kept = parsed.WithDigest(d)
	parsed.Tag = ""
	return kept, parsed.WithDigest(d)
}

// pinWant is what a pinned site is to render as: its reference with the
// digest, the tag kept (kept) or dropped (tagless).
type pinWant struct {
	id            siteRef
	ref           string
	kept, tagless string
	digest        string // the digest the value was given
}

// renderCulprits finds, of the values pinned, those whose edit alone
// stops values set vs from rendering (a template that reads the tag as a
// version: kong's semver of image.tag): the values of the files the set
// reads (values.yaml, the set's own file) and of the templates, each
// rendered with its edit alone. None: the edits fail only together, and
// the chart is refused as a whole.
func (r *run) renderCulprits(j *chartJudge, vs *valueSet, wants []pinWant) []siteRef {
	var culprits []siteRef
	for _, w := range wants {
		fr, rel := w.id.f, j.rel(w.id.f.file.Path)
		if rel != "values.yaml" && rel != vs.file && isValuesSet(rel) {
			continue // a values file this set does not read
		}
		edits, _ := fr.file.EditSites(func(k int) string {
			if k != w.id.site {
				return ""
			}
			return r.digestAt(&fr.plans[k])
		}, r.policyOf(fr))
		out, err := rewrite.Apply(fr.file.Data, edits)
		if err != nil {
			continue
		}
		files := maps.Clone(j.files)
		files[rel] = out
		if _, err := r.opts.Renderer.Render(r.ctx, files, vs.valuesIn(files)); err != nil {
			culprits = append(culprits, w.id)
		}
	}
	return culprits
}

// proveCharts renders every chart whose files changed, and keeps the
// changes only where the render shows them as meant. A digest key whose
// template writes "@sha256:" itself is given bare hex, and proved again.
//
// A failure the proof can pin on values (an image that renders otherwise
// than meant; a line that changed and holds the digest a value was given)
// refuses those values alone: the chart is proved again without them, and
// its other values keep their pins when that render proves them.
func (r *run) proveCharts() {
	for _, j := range r.charts {
		bare := false
		for attempt := 0; attempt <= len(j.sites)+1; attempt++ {
			failure, retry, culprits := r.prove(j)
			if failure == "" {
				break
			}
			if len(retry) > 0 && !bare {
				bare = true
				r.spliceAll(retry)
				continue
			}
			if len(culprits) > 0 && len(retry) == 0 {
				err := fmt.Errorf("not written: the chart's render does not prove the edits: %s", failure)
				files := map[*fileRun]bool{}
				for _, id := range culprits {
					if p := &id.f.plans[id.site]; p.skip == "" { // a skip: no pin to make after all
						p.more().fail = err
					}
					files[id.f] = true
				}
				r.spliceAll(files)
				continue
			}
			r.refuse(j, failure)
			break
		}
	}
}

// prove renders chart j with its files as spliced; it returns why the
// render does not prove the edits (""), the files to splice again when a
// digest key wants bare hex, and the values the failure is theirs, when
// it can tell.
func (r *run) prove(j *chartJudge) (string, map[*fileRun]bool, []siteRef) {
	after := maps.Clone(j.files)
	changed := false
	for _, fr := range j.members {
		if out := fr.spliced; out != nil {
			after[j.rel(fr.file.Path)] = out
			changed = true
		}
	}
	if !changed || j.files == nil {
		return "", nil, nil
	}
	var wants []pinWant
	for id, rs := range j.sites {
		p := &id.f.plans[id.site]
		ri := r.refs[p.key]
		if ri == nil || ri.digest == "" || p.failed() != nil || p.skip != "" {
			continue
		}
		kept, tagless := withDigest(p.key, ri.digest) // the key: a tag appVersion moved
		wants = append(wants, pinWant{id, rs.ref, kept, tagless, ri.digest})
	}
	retry := map[*fileRun]bool{}
	outs := make([]map[string]string, len(j.sets))
	errs := make([]error, len(j.sets))
	eachSet(len(j.sets), func(n int) {
		if vs := j.sets[n]; vs.err == nil {
			outs[n], errs[n] = r.opts.Renderer.Render(r.ctx, after, vs.valuesIn(after))
		}
	})
	for n, vs := range j.sets {
		if vs.err != nil {
			continue
		}
		out, err := outs[n], errs[n]
		if err != nil {
			why := fmt.Sprintf("the chart no longer renders with %s: %s", vs.name(), firstLine(err.Error()))
			return why, nil, r.renderCulprits(j, vs, wants)
		}
		vals, err := render.Values(out)
		if err != nil {
			return fmt.Sprintf("the chart no longer renders YAML with %s: %s", vs.name(), firstLine(err.Error())), nil, nil
		}
		got := map[string]string{}
		for _, v := range vals {
			got[v.Slot] = v.Text
		}
		if why, culprits := provedIn(j, n, got, wants, retry); why != "" {
			return why, nil, culprits
		}
		if len(retry) > 0 {
			return "a digest key wants bare hex", retry, nil
		}
		vs.againOnce.Do(func() {
			if differs(vs.before, out) {
				vs.again, _ = r.opts.Renderer.Render(r.ctx, j.files, vs.valuesIn(j.files))
			}
		})
		if why, culprits := sameBut(vs, out, wants); why != "" {
			return why + " (with " + vs.name() + ")", nil, culprits
		}
	}
	return "", nil, nil
}

// provedIn checks the field each wanted pin renders in set n's render
// (got): why one is not as wanted (with it), or "" when all are. A digest
// key that turns out to want bare hex is marked so, and its file put in
// retry; a value whose edit renders nothing is left, saying why.
func provedIn(j *chartJudge, n int, got map[string]string, wants []pinWant, retry map[*fileRun]bool) (string, []siteRef) {
	vs := j.sets[n]
	for _, w := range wants {
		for _, ss := range j.sites[w.id].slots {
			if ss.set != n {
				continue
			}
			g := got[ss.slot]
			if g == w.kept || g == w.tagless {
				continue
			}
			site := w.id.f.file.Sites[w.id.site]
			p := &w.id.f.plans[w.id.site]
			if strings.Contains(g, "sha256:sha256:") && site.HasDigestKey() && (!p.bare || retry[w.id.f]) {
				p.bare = true
				retry[w.id.f] = true
				continue
			}
			if g == w.ref {
				// the edit renders nothing: the image is not made from
				// this value (a tag key pinbot added that the chart does
				// not read, gatekeeper's being release; a repository: null
				// whose marker took a branch the value does not): no pin
				// to make here
				p.skip = "an edit to this value does not change what the chart renders (" + safetext.Term(w.ref) + "): the image comes from another value, or the digest is dropped"
				if site.AddsTag() {
					p.skip = "its tag comes from a value pinbot does not know (a tag key added renders nothing): the chart renders " + safetext.Term(w.ref) + " with it or without"
				}
			}
			return fmt.Sprintf("%s:%d: %s renders %q before the edit and %q after (with %s), not %q", w.id.f.file.Path, site.Line,
				site.Written, w.ref, g, vs.name(), w.kept), []siteRef{w.id}
		}
	}
	return "", nil
}

// isComment tells a rendered line that is a YAML comment alone.
func isComment(line string) bool { return strings.HasPrefix(strings.TrimSpace(line), "#") }

// isChecksum tells a rendered line that holds a checksum annotation
// (checksum/config), whose value changes with the values it sums.
func isChecksum(line string) bool { return strings.Contains(line, "checksum/") }

// differs tells two renders apart.
func differs(a, b map[string]string) bool { return !maps.Equal(a, b) }

// eachSet runs f for 0..n-1, as many at once as there are processors.
func eachSet(n int, f func(int)) { parallel(n, 0, f) }

// sameBut tells how render out differs from the untouched chart's beyond
// the pinned images, pull policies, checksums and what differs between two
// untouched renders; "" when it does not.
func sameBut(vs *valueSet, out map[string]string, wants []pinWant) (string, []siteRef) {
	for _, name := range slices.Sorted(maps.Keys(out)) {
		before, ok := vs.before[name]
		if !ok {
			return "the edits make the chart render " + name + ", which it did not", nil
		}
		if out[name] == before {
			continue
		}
		again, ok := vs.again[name]
		if !ok {
			again = before
		}
		a, b, c := strings.Split(out[name], "\n"), strings.Split(before, "\n"), strings.Split(again, "\n")
		if len(b) != len(c) {
			continue // renders differently each time
		}
		if len(a) != len(b) {
			return fmt.Sprintf("the edits change %s by %d lines", name, len(a)-len(b)), nil
		}
	lines:
		for i := range a {
			if a[i] == b[i] || b[i] != c[i] {
				continue
			}
			// a pull policy, or a checksum annotation (checksum/config) of values that changed
			if strings.Contains(a[i], "ullPolicy") && strings.Contains(b[i], "ullPolicy") || isChecksum(a[i]) && isChecksum(b[i]) {
				continue
			}
			for _, w := range wants {
				if strings.Contains(b[i], w.ref) && (strings.ReplaceAll(b[i], w.ref, w.kept) == a[i] || strings.ReplaceAll(b[i], w.ref, w.tagless) == a[i]) {
					continue lines
				}
			}
			if isComment(a[i]) && isComment(b[i]) {
				continue // a comment deploys nothing (JupyterHub's hash of its images)
			}
			// the values whose digest the line now holds are the cause,
			// whole or cut short (argo-cd's version label turns the tag
			// into "v3.4.4-sha256-<hex>", 63 characters at most): twelve
			// hex digits of a digest are found by chance in no line
			var culprits []siteRef
			for _, w := range wants {
				if hex := strings.TrimPrefix(w.digest, "sha256:"); len(hex) >= 12 && strings.Contains(a[i], hex[:12]) {
					culprits = append(culprits, w.id)
				}
			}
			return fmt.Sprintf("the edits change more than images: %s renders %q where it rendered %q", name, safetext.Term(a[i]), safetext.Term(b[i])), culprits
		}
	}
	for name := range vs.before {
		if _, ok := out[name]; !ok {
			return "the edits make the chart stop rendering " + name, nil
		}
	}
	return "", nil
}

// refuse leaves every file of chart j as it was: each site whose change
// it carried fails, saying why.
func (r *run) refuse(j *chartJudge, why string) {
	err := fmt.Errorf("not written: the chart's render does not prove the edits: %s", why)
	files := map[*fileRun]bool{}
	for _, fr := range j.members {
		if fr.spliced == nil {
			continue
		}
		files[fr] = true
		for k := range fr.plans {
			p := &fr.plans[k]
			if p.key == "" || p.skip != "" || p.failed() != nil {
				continue
			}
			ri := r.refs[p.key]
			if ri != nil && ri.digest != "" && ri.digest != fr.file.Sites[k].Ref.Digest || fr.notes != nil && fr.notes[k] != rewrite.PolicyNone {
				p.more().fail = err
			}
		}
	}
	r.spliceAll(files)
}
