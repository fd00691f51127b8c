package rewrite

import (
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// UseKind is the kind of place a workflow names an action.
type UseKind string

const (
	UseStep     UseKind = "actionStep"       // steps[].uses of a workflow job or a composite action
	UseReusable UseKind = "reusableWorkflow" // jobs.*.uses: a reusable workflow
)

// CommentStyle is how a version comment after a "uses:" is written.
type CommentStyle int

const (
	CommentNone    CommentStyle = iota // no version comment
	CommentPlain                       // "# v4.2.2" (pinact, Dependabot, pinbot)
	CommentRatchet                     // "# ratchet:actions/checkout@v4"
)

// Use is a "uses:" that names an action or a reusable workflow in a
// repository by a ref: owner/repo[/path]@ref.
type Use struct {
	Line, Column int
	Kind         UseKind
	Written      string // the value exactly as written
	Repo         string // owner/repo
	Path         string // the action's directory or the workflow's file in the repository; "" for its root
	Ref          string // after "@": a tag, a branch, or a commit SHA
	// Comment is the ref a version comment after the value names ("v4.2.2"
	// of "# v4.2.2", "v4" of "# ratchet:actions/checkout@v4"): the ref a
	// pinned use tracks. "" when there is none.
	Comment string
	Style   CommentStyle
	// Skip says why the use is left alone ("" when it can be pinned).
	Skip string

	ref     span // Ref's bytes
	comment span // the version's bytes in the comment (Style != CommentNone)
	// insert is where " # ref" goes when there is no version comment: just
	// before another comment, or at the end of the line
	insert int
	// other: the line carries a comment that is no version (kept, after ours)
	other bool
	// tail: other words follow the version in its comment ("# v4 the
	// checkout"), read as a version only while it looks like one
	tail bool
}

// ReasonLocalAction and its kin say why a "uses:" is left alone.
const (
	ReasonLocalAction = "a local action (./path): it is part of this repository"
	ReasonUsesNoRef   = "no @ref: GitHub requires one (owner/repo@ref)"
	ReasonUsesEmpty   = "an empty ref after @"
	ReasonUsesForm    = "not owner/repo[/path]@ref"
)

var (
	shaRE      = regexp.MustCompile(`^[0-9a-f]{40}$`)
	repoPartRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	refRE      = regexp.MustCompile(`^[A-Za-z0-9._/+-]+$`)
	// a plain version comment: the ref alone, or "tag=ref" (Renovate)
	versionRE = regexp.MustCompile(`^(?:tag=)?(v?\d[A-Za-z0-9._+-]*)$`)
	ratchetRE = regexp.MustCompile(`^ratchet:([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+)@([A-Za-z0-9._/+-]+)$`)
)

// validRef tells a ref git could name (git check-ref-format's rules, in
// the characters refRE allows): no "..", no empty or dotted component. A
// ref is sent to GitHub in a request's path, so "../../user" must never
// reach it.
func validRef(ref string) bool {
	if !refRE.MatchString(ref) || strings.Contains(ref, "..") || strings.HasSuffix(ref, ".") || strings.HasSuffix(ref, ".lock") {
		return false
	}
	for _, c := range strings.Split(ref, "/") {
		if c == "" || strings.HasPrefix(c, ".") {
			return false
		}
	}
	return true
}

// dotted tells "." and "..", which no owner or repository is named.
func dotted(s string) bool { return s == "." || s == ".." }

// IsCommitSHA tells a full commit SHA: 40 lowercase hex digits.
func IsCommitSHA(s string) bool { return shaRE.MatchString(s) }

// Pinned tells a use pinned to a commit.
func (u *Use) Pinned() bool { return IsCommitSHA(u.Ref) }

// Tracks is the ref the use follows: the version comment's when it is
// pinned, else the ref written.
func (u *Use) Tracks() string {
	if u.Pinned() {
		return u.Comment
	}
	return u.Ref
}

// Action is the repository and path the use names: owner/repo[/path].
func (u *Use) Action() string {
	if u.Path == "" {
		return u.Repo
	}
	return u.Repo + "/" + u.Path
}

// usesOf scans the "uses:" of a step or a job: one naming an action or a
// workflow of a repository. "docker://" is an image (see uses).
func (w *yamlWalk) usesOf(m *yaml.Node, kind UseKind) {
	_, v := w.field(m, "uses")
	t := deref(v)
	if t == nil || t.Kind != yaml.ScalarNode || t.Tag == "!!null" || strings.HasPrefix(t.Value, dockerScheme) {
		return
	}
	u := &Use{Kind: kind, Written: t.Value, Line: t.Line, Column: t.Column}
	w.f.Uses = append(w.f.Uses, u)
	switch {
	case strings.HasPrefix(t.Value, "./") || strings.HasPrefix(t.Value, "../"):
		u.Skip = ReasonLocalAction
		return
	case strings.Contains(t.Value, "${{"):
		u.Skip = ReasonVariable
		return
	}
	name, ref, ok := strings.Cut(t.Value, "@")
	parts := strings.Split(name, "/")
	switch {
	case !ok:
		u.Skip = ReasonUsesNoRef
		return
	case ref == "":
		u.Skip = ReasonUsesEmpty
		return
	case len(parts) < 2 || !repoPartRE.MatchString(parts[0]) || !repoPartRE.MatchString(parts[1]) || !validRef(ref) || strings.Contains(name, "//") ||
		dotted(parts[0]) || dotted(parts[1]):
		u.Skip = ReasonUsesForm
		return
	}
	u.Repo, u.Path, u.Ref = parts[0]+"/"+parts[1], strings.Join(parts[2:], "/"), ref
	sp, after, err := w.f.locate(t)
	if err != nil {
		u.Skip = ReasonUneditable + ": " + err.Error()
		return
	}
	u.ref = span{start: sp.start + len(name) + 1, end: sp.end, valid: true}
	u.Line, u.Column = w.f.src.lineOf(u.ref.start), w.f.src.columnOf(sp.start)
	if w.f.src.ignored(u.Line) {
		u.Skip = ReasonIgnored
		return
	}
	w.f.readComment(u, after)
	// an alias is pinned where its anchor holds the value (every alias of it
	// with it); the comment is the anchor's
}

// readComment finds the comment on the line of a use's value (after is the
// offset just past the value): a version comment is read as the ref the use
// tracks; another is kept, after the one pinbot writes.
func (f *File) readComment(u *Use, after int) {
	end, _ := f.src.lineEnd(after)
	line := f.src.data[after:end]
	at := commentStart(line)
	if at < 0 {
		// no comment: after the line's last character that is no space
		e := len(line)
		for e > 0 && (line[e-1] == '\n' || line[e-1] == '\r' || line[e-1] == ' ' || line[e-1] == '\t') {
			e--
		}
		u.insert = after + e
		return
	}
	u.insert = after + at
	text := string(line[at+1:])
	lead := len(text) - len(strings.TrimLeft(text, " \t"))
	body := strings.TrimRight(text[lead:], " \t\r\n")
	first, rest, _ := strings.Cut(body, " ")
	// pinbot's own comment before another: "# main # fetch the code"
	ownThenOther := rest == "" || strings.HasPrefix(strings.TrimSpace(rest), "#")
	start := after + at + 1 + lead // the first word's offset
	switch m := ratchetRE.FindStringSubmatch(first); {
	case strings.HasPrefix(first, "ratchet:exclude"):
		u.Skip = "ratchet:exclude: left as its author asked"
	case m != nil && strings.EqualFold(m[1], u.Action()) && validRef(m[2]):
		u.Comment, u.Style = m[2], CommentRatchet
		u.comment = span{start: start + len("ratchet:") + len(m[1]) + 1, end: start + len(first), valid: true}
	case (versionRE.MatchString(first) || u.Pinned() && ownThenOther) && validRef(strings.TrimPrefix(first, "tag=")):
		off := 0
		if v := versionRE.FindStringSubmatch(first); v != nil {
			off = len(first) - len(v[1])
			first = v[1]
		} else if ref, ok := strings.CutPrefix(first, "tag="); ok {
			off, first = len("tag="), ref
		}
		u.Comment, u.Style, u.tail = first, CommentPlain, !ownThenOther
		u.comment = span{start: start + off, end: start + off + len(first), valid: true}
	default:
		u.other = true
	}
}

// commentStart is where a comment starts on the rest of a line (after a
// value): a "#" that is not inside quotes and follows a space (or ends a
// flow collection, as YAML parsers read it), or -1. What may follow the
// value on its line is read as YAML's flow tokens are: a quote opens a
// quoted scalar only where a scalar starts (after "{", "[", "," or an
// indicator's ":" or "?"); inside a plain scalar (a key `0 "` or `00:"`) it
// is text.
func commentStart(line []byte) int {
	var quote byte
	start := false  // a scalar may start here
	closed := false // a quoted scalar has just ended (a JSON-like key's ":" follows it directly)
	for i := 0; i < len(line); i++ {
		c := line[i]
		next := byte(' ')
		if i+1 < len(line) {
			next = line[i+1]
		}
		switch {
		case quote == '"' && c == '\\':
			i++ // an escape: the next byte is text
		case quote == '\'' && c == '\'' && next == '\'':
			i++ // '' is a quote in a single-quoted scalar
		case quote != 0:
			if c == quote {
				quote, closed = 0, true
			}
			continue
		case c == '#' && (i == 0 || strings.IndexByte(" \t}],", line[i-1]) >= 0):
			// after a space, or right after a flow collection's end
			return i
		case c == '\n' || c == '\r':
			return -1
		case c == ' ' || c == '\t':
			continue // a scalar may still start, or has ended
		case (c == '\'' || c == '"') && start:
			quote = c
		case c == '{' || c == '[' || c == ',':
			start = true
		case (c == ':' || c == '?') && (closed || strings.IndexByte(" \t\r\n,[]{}", next) >= 0):
			start = true // an indicator, not a plain scalar's character
		default:
			start = false
		}
		closed = false
	}
	return -1
}

// UseEdits pins u to sha, tracking ref: the ref becomes sha, and the
// version comment names ref, in the style it was written in (a new one is
// " # ref", before any other comment on the line). Nothing when u is
// already that.
func (u *Use) UseEdits(sha, ref string) []Edit {
	if u.Skip != "" || !u.ref.valid || !IsCommitSHA(sha) || !validRef(ref) {
		return nil
	}
	var edits []Edit
	if u.Ref != sha {
		edits = append(edits, Edit{Start: u.ref.start, End: u.ref.end, Text: sha})
	}
	switch {
	case u.Style == CommentPlain && u.tail && u.Comment != ref && !versionRE.MatchString(ref):
		// "# v4 the checkout" now tracking main: "# main the checkout"
		// would not be read as a version again; "# main # the checkout" is
		edits = append(edits, Edit{Start: u.comment.start, End: u.comment.end, Text: ref + " #"})
	case u.Style != CommentNone && u.Comment != ref:
		edits = append(edits, Edit{Start: u.comment.start, End: u.comment.end, Text: ref})
	case u.Style == CommentNone && u.other:
		edits = append(edits, Edit{Start: u.insert, End: u.insert, Text: "# " + ref + " "})
	case u.Style == CommentNone:
		edits = append(edits, Edit{Start: u.insert, End: u.insert, Text: " # " + ref})
	}
	return edits
}
