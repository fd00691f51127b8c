package rewrite

import (
	"fmt"
	"strings"

	"github.com/pinbot/pinbot/internal/imageref"
)

// Kind is the kind of place an image is named.
type Kind string

const (
	KindContainer          Kind = "container"           // Kubernetes containers[]
	KindInitContainer      Kind = "initContainer"       // Kubernetes initContainers[]
	KindEphemeralContainer Kind = "ephemeralContainer"  // Kubernetes ephemeralContainers[]
	KindImageVolume        Kind = "imageVolume"         // Kubernetes volumes[].image.reference
	KindCustomResource     Kind = "customResource"      // any image: string in another kind
	KindCompose            Kind = "compose"             // services.*.image
	KindWorkflowContainer  Kind = "workflowContainer"   // jobs.*.container
	KindWorkflowService    Kind = "workflowService"     // jobs.*.services.*.image
	KindWorkflowStep       Kind = "workflowStep"        // steps[].uses: docker://
	KindAction             Kind = "action"              // action.yml runs.image: docker://
	KindDockerfileFrom     Kind = "dockerfileFrom"      // FROM
	KindDockerfileCopy     Kind = "dockerfileCopyFrom"  // COPY --from=
	KindDockerfileSyntax   Kind = "dockerfileSyntax"    // # syntax=
	KindDockerfileArg      Kind = "dockerfileArg"       // ARG default used as a FROM image
	KindDockerfileMount    Kind = "dockerfileMountFrom" // RUN --mount=from=
	KindKustomize          Kind = "kustomizeImage"      // kustomization images[]
	KindHelmImage          Kind = "helmImage"           // Helm values: an image map (repository, tag, digest)
	KindHelmValue          Kind = "helmValue"           // Helm values: an image: string
	KindHelmTemplate       Kind = "helmTemplate"        // a chart template's literal image: line
)

// PullPolicy is what to do with imagePullPolicy on the Kubernetes containers
// whose image is pinned.
type PullPolicy string

const (
	PolicyIfNotPresent PullPolicy = "IfNotPresent"
	PolicyAlways       PullPolicy = "Always"
	PolicyKeep         PullPolicy = "keep"
)

// ParsePullPolicy accepts IfNotPresent, Always and keep.
func ParsePullPolicy(s string) (PullPolicy, error) {
	for _, p := range []PullPolicy{PolicyIfNotPresent, PolicyAlways, PolicyKeep} {
		if strings.EqualFold(s, string(p)) {
			return p, nil
		}
	}
	return "", fmt.Errorf("pull policy %q: want IfNotPresent, Always or keep", s)
}

// A Site is one place a file names an image.
type Site struct {
	Line, Column int    // 1-based, of the reference (kustomize: of newTag)
	Kind         Kind   //
	Written      string // the reference exactly as written
	Ref          imageref.Ref
	// Skip says why the site is left alone ("" when it can be pinned).
	Skip string
	// PullPolicy is the container's imagePullPolicy as written ("" when absent
	// or not a Kubernetes container of a built-in kind); for a Helm image
	// map, its pullPolicy.
	PullPolicy string
	// AppVersion is set when the tag is not written in the file but taken
	// from the chart's appVersion (the tag the chart renders by default).
	AppVersion bool
	// Loose: a Helm value found by its form alone, under a key no rule
	// knows; it is an image only where a render shows it as one.
	Loose bool
	// Templated: a Helm image map whose repository the chart's templates
	// supply (repository: null); Written names its place in the values,
	// Ref holds only the tag and digest written, and only a render tells
	// the reference.
	Templated bool
	bare      bool // the digest key holds bare hex (see BareDigest)

	ref       span       // the reference's characters in the file
	container *container // built-in Kubernetes container: where imagePullPolicy lives
	digestKey *digestKey // a digest key beside the tag: kustomize's images[] entry, a Helm image map's
	// helm is what only a Helm value has: a file naming an image 450,000
	// times has as many sites, each kept small
	helm *helmPart
}

// helmPart is the part of a site only Helm values have.
type helmPart struct {
	path []string // see ValuePath
	mark span     // an image map's repository value (see Mark)
	// markSpace: the mark goes where a value is missing ("repository:"
	// with nothing after it), and needs a space before it
	markSpace bool
	slot      *tagSlot // a Helm tag that follows the chart's appVersion
}

// ValuePath is where a Helm value sits in its values: the keys down to it
// ("[]" for a list's item); nil for a site of another kind.
func (s *Site) ValuePath() []string {
	if s.helm == nil {
		return nil
	}
	return s.helm.path
}

// helmOf gives the site's Helm part, made when first asked.
func (s *Site) helmOf() *helmPart {
	if s.helm == nil {
		s.helm = &helmPart{}
	}
	return s.helm
}

// tagSlot is the site's appVersion tag slot; nil when it has none.
func (s *Site) tagSlot() *tagSlot {
	if s.helm == nil {
		return nil
	}
	return s.helm.slot
}

// tagSlot is where an image map that takes its tag from the chart's
// appVersion gets the tag the chart renders, with its digest, and a mark
// of the appVersion it follows; or, once marked, where the tag moves when
// appVersion does.
type tagSlot struct {
	appVersion string // Chart.yaml's, now
	// [at, end): the tag's text (empty for tag: ""), inside any quotes
	at, end int
	quote   bool // a value written after "tag:", quoted
	null    bool // a value written quoted in place of null or ~
	markAt  int  // where the mark goes: after the value, or after the comment on its line (0: with the value)
	// newLine: the map has no tag key; a line "tag: ..." goes after the
	// repository's
	newLine     bool
	lineEnd     int
	eol, indent string
	mark        span   // a mark already there: its appVersion
	moveTo      string // the tag appVersion moves it to
}

// TagSlot tells a Helm image whose tag pinbot writes (the one the chart
// renders from appVersion), with its digest: Rewrite is given "tag@digest".
func (s *Site) TagSlot() bool { return s.tagSlot() != nil }

// AddsTag tells a Helm image map without a tag key, to which pinbot adds
// one holding the tag appVersion gives, with its digest.
func (s *Site) AddsTag() bool { return s.tagSlot() != nil && s.tagSlot().newLine }

// SlotAppVersion is the appVersion a Helm tag pinbot writes follows (see
// TagSlot); "" for a site without one.
func (s *Site) SlotAppVersion() string {
	if s.tagSlot() == nil {
		return ""
	}
	return s.tagSlot().appVersion
}

// MovedTag is the tag a marked appVersion tag moves to, "" when it stays.
func (s *Site) MovedTag() string {
	if s.tagSlot() == nil {
		return ""
	}
	return s.tagSlot().moveTo
}

// edits writes text (tag@digest) into the slot, with the mark.
func (t *tagSlot) edits(edits []Edit, text string, f *File) []Edit {
	mark := " # pinbot:appVersion=" + t.appVersion
	switch {
	case t.newLine:
		return append(edits, insertField("tag", `"`+text+`"`+mark, false, 0, t.lineEnd, t.eol, t.indent, f))
	case t.mark.valid: // a move: the tag, then the mark's version
		return append(edits, Edit{Start: t.at, End: t.end, Text: text}, Edit{Start: t.mark.start, End: t.mark.end, Text: t.appVersion})
	case t.quote:
		text = ` "` + text + `"`
	case t.null:
		text = `"` + text + `"`
	}
	if t.markAt == 0 { // the mark right after the value
		return append(edits, Edit{Start: t.at, End: t.end, Text: text + mark})
	}
	return append(edits, Edit{Start: t.at, End: t.end, Text: text}, Edit{Start: t.markAt, End: t.markAt, Text: mark})
}

// span is a scalar's content in the file's bytes, inside any quotes.
type span struct {
	start, end int
	valid      bool
}

// container is where a Kubernetes container keeps imagePullPolicy.
type container struct {
	policy    span   // the value of imagePullPolicy, when present and plain text
	hasPolicy bool   // the key is present (perhaps with a value we cannot edit)
	flow      bool   // the container is a flow mapping: {name: a, image: b}
	after     int    // flow: offset just after the image value
	lineEnd   int    // block: offset just past the image value's line
	eol       string // block: that line's break ("" at EOF)
	indent    string // block: indentation of the image key
}

// digestKey is a mapping that keeps the digest in a key of its own beside
// the tag: a kustomization's images[] entry (digest: beside newTag), a Helm
// image map (digest: or sha: beside tag), or the key pinbot adds to one
// whose templates read it.
type digestKey struct {
	digest    span // the digest value, when present
	hasDigest bool
	flow      bool
	after     int    // flow: offset just after the newTag value
	lineEnd   int    // block: offset past the newTag line
	eol       string //
	indent    string // indentation of the newTag key
}

// Mark is the bytes [start, end) of the value that names the site's image:
// the reference itself, or an image map's repository. A chart's templates
// are told which rendered image a value makes by writing a marker there;
// space: the marker needs a space before it (a repository missing after
// its key's colon).
func (s *Site) Mark() (start, end int, space, ok bool) {
	switch {
	case s.helm != nil && s.helm.mark.valid:
		return s.helm.mark.start, s.helm.mark.end, s.helm.markSpace, true
	case s.ref.valid:
		return s.ref.start, s.ref.end, false, true
	}
	return 0, 0, false, false
}

// HasDigestKey tells an image map whose digest goes into a key of its own
// (digest, sha): its template, not pinbot, joins it to the reference.
func (s *Site) HasDigestKey() bool { return s.digestKey != nil }

// BareDigest tells an image map whose digest key holds bare hex (the
// template writes "@sha256:" itself): its digest is written the same way.
func (s *Site) BareDigest() bool { return s.bare }

// Pinnable reports whether the site can be pinned.
func (s *Site) Pinnable() bool { return s.Skip == "" }

// PolicyNote says what Edits does, or declines to do, to imagePullPolicy.
type PolicyNote string

const (
	PolicyNone    PolicyNote = ""
	PolicyAdded   PolicyNote = "added"   // imagePullPolicy inserted
	PolicyChanged PolicyNote = "changed" // an existing value replaced
	PolicyKept    PolicyNote = "kept"    // Never, or a value pinbot does not own, left as it was
)

// appendEdits appends the changes that make the site carry digest and
// apply the pull policy to a built-in container whose image then carries
// one. digest "" leaves the site exactly as it is, pull policy included:
// that is what a reference that could not be resolved gets. A digest
// without "sha256:" (bare hex) is written so into a digest key; anywhere
// else a digest is written whole.
func (s *Site) appendEdits(edits []Edit, f *File, digest string, pol PullPolicy) ([]Edit, PolicyNote) {
	if !s.Pinnable() || digest == "" {
		return edits, PolicyNone
	}
	if slot := s.tagSlot(); slot != nil {
		// "tag@digest": the tag the chart renders, written with its
		// digest; a digest alone has no tag to go with, and is not written
		if !strings.Contains(digest, "@") {
			return edits, PolicyNone
		}
		if digest != s.Ref.Tag+"@"+s.Ref.Digest {
			edits = slot.edits(edits, digest, f)
		}
		return s.policyEdits(edits, f, pol)
	}
	written := digest
	if !strings.HasPrefix(digest, "sha256:") {
		digest = "sha256:" + digest
	}
	if digest != s.Ref.Digest || (s.digestKey != nil && s.bare != (written != digest)) {
		switch {
		case s.digestKey != nil:
			edits = append(edits, s.digestKey.edit(written, f))
		case s.Ref.Digest != "":
			// Replace just the old digest: the tail of the reference.
			edits = append(edits, Edit{Start: s.ref.end - len(s.Ref.Digest), End: s.ref.end, Text: digest})
		default:
			edits = append(edits, Edit{Start: s.ref.end, End: s.ref.end, Text: f.text("@", digest, "", "", "")})
		}
	}
	return s.policyEdits(edits, f, pol)
}

// policyEdits applies the pull policy to a site whose image carries a
// digest.
func (s *Site) policyEdits(edits []Edit, f *File, pol PullPolicy) ([]Edit, PolicyNote) {
	if s.container == nil || pol == PolicyKeep {
		return edits, PolicyNone
	}
	c := s.container
	want := string(pol)
	switch {
	case !c.hasPolicy:
		return append(edits, c.insert("imagePullPolicy", want, f)), PolicyAdded
	case s.PullPolicy == want:
		return edits, PolicyNone
	case (s.PullPolicy == string(PolicyAlways) || s.PullPolicy == string(PolicyIfNotPresent)) && c.policy.valid:
		return append(edits, Edit{Start: c.policy.start, End: c.policy.end, Text: want}), PolicyChanged
	default: // Never, or something pinbot does not own
		return edits, PolicyKept
	}
}

func (c *container) insert(key, value string, f *File) Edit {
	return insertField(key, value, c.flow, c.after, c.lineEnd, c.eol, c.indent, f)
}

func (k *digestKey) edit(digest string, f *File) Edit {
	if k.hasDigest {
		return Edit{Start: k.digest.start, End: k.digest.end, Text: digest}
	}
	return insertField("digest", digest, k.flow, k.after, k.lineEnd, k.eol, k.indent, f)
}

// insertField adds "key: value" to a mapping: inside a flow mapping right
// after a value, or on a new line of a block mapping in the given indentation
// and line ending.
func insertField(key, value string, flow bool, after, lineEnd int, eol, indent string, f *File) Edit {
	if flow && f.isJSON() {
		return Edit{Start: after, End: after, Text: f.text(`, "`, key, `": "`, value, `"`)}
	}
	if flow {
		return Edit{Start: after, End: after, Text: f.text(", ", key, ": ", value, "")}
	}
	if eol == "" { // the last line of a file without a final newline
		return Edit{Start: lineEnd, End: lineEnd, Text: f.src.eol() + indent + key + ": " + value}
	}
	return Edit{Start: lineEnd, End: lineEnd, Text: f.text(indent, key, ": ", value, eol)}
}
