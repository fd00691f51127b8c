// Package report is what a pinbot run found and did, one model rendered as
// terminal text, JSON, SARIF, GitHub annotations and a pull request body.
package report

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Status is what happened to one image reference.
type Status string

const (
	Pinned   Status = "pinned"   // a tag gained its digest
	Updated  Status = "updated"  // a pinned tag moved upstream: new digest
	Current  Status = "current"  // pinned, and the digest is the tag's
	Unpinned Status = "unpinned" // offline check: no digest written
	// Unverified is a reference with a digest that an offline run did not
	// ask the registry about: pinned, but not known to be current.
	Unverified Status = "unverified"
	// Vanished is a digest written that no longer exists upstream, renewed
	// from its tag: urgent, as new nodes cannot pull what is written.
	Vanished Status = "vanished"
	// Held is a tag that moved to a digest first seen less than the
	// cooldown (--min-age) ago: it keeps its digest until Eligible.
	Held    Status = "held"
	Skipped Status = "skipped" // left alone, for Reason
	Failed  Status = "failed"  // could not be resolved: Error
)

// Entry is one image reference in one file.
type Entry struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Kind   string `json:"kind"`
	// Ref is the reference exactly as written.
	Ref string `json:"ref"`
	// Image is the repository as people say it ("nginx", "quay.io/argoproj/argocd").
	Image string `json:"image,omitempty"`
	Tag   string `json:"tag,omitempty"`
	// OldDigest is the digest written before the run, if any.
	OldDigest string `json:"oldDigest,omitempty"`
	// Digest is the one the registry serves for the tag now.
	Digest string `json:"digest,omitempty"`
	// Pinned is the reference as pinbot writes it.
	Pinned string `json:"pinned,omitempty"`
	Status Status `json:"status"`
	// Note says more about the reference: where a tag not written in the
	// file came from.
	Note   string `json:"note,omitempty"`
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// Cached says the digest is a cached answer (--cache), not the
	// registry's of this run.
	Cached bool `json:"cached,omitempty"`
	// Via is the mirror reference that was asked, when one was.
	Via string `json:"via,omitempty"`
	// Vanished says the digest written no longer exists upstream (renewed,
	// or, with no tag to follow, failed).
	Vanished bool `json:"vanished,omitempty"`
	// Missing are the required platforms the digest does not cover.
	Missing []string `json:"missingPlatforms,omitempty"`
	// Evidence is what the old and the new digest of a moved tag stand for.
	Evidence *Evidence `json:"evidence,omitempty"`
	// FirstSeen is when pinbot first saw the tag at Digest, and Eligible
	// when the move is proposed (held moves).
	FirstSeen *time.Time `json:"firstSeen,omitempty"`
	Eligible  *time.Time `json:"eligible,omitempty"`
	// Compare is the web page of the commits between the old and the new
	// commit of an action whose ref moved.
	Compare string `json:"compare,omitempty"`
	// PullPolicy says what happened to the container's imagePullPolicy:
	// "added IfNotPresent", "Always -> IfNotPresent", "kept Never".
	PullPolicy string `json:"pullPolicy,omitempty"`
	// Signature is who signed Digest, when the run judged it.
	Signature *Signature `json:"signature,omitempty"`
}

// Signature is what a digest's signatures show, judged by the signature
// policy.
type Signature struct {
	// Status is signed, unsigned, invalid (signatures found, none
	// verified) or unknown (the registry could not be read).
	Status  string   `json:"status"`
	Signers []Signer `json:"signers,omitempty"`
	// Rule is the signer the policy's rule for the image names.
	Rule string `json:"rule,omitempty"`
	// Continuity is who signed the digest replaced, when no rule names
	// the image: the new digest must be signed by the same.
	Continuity []string `json:"continuity,omitempty"`
	// Problem is why the policy is not met ("" when it is); Refused, that
	// enforce refused the digest for it.
	Problem string `json:"problem,omitempty"`
	Refused bool   `json:"refused,omitempty"`
	// Notes are signatures that did not verify, and what could not be read.
	Notes []string `json:"notes,omitempty"`
	// PerPlatform is how many platform manifests were signed one by one,
	// where the index is not.
	PerPlatform int `json:"perPlatform,omitempty"`
}

// Signer is one verified signature or attestation.
type Signer struct {
	// Identity is the certificate's subject (a workflow, an e-mail
	// address), or "key FILE".
	Identity string `json:"identity"`
	Issuer   string `json:"issuer,omitempty"`
	// Time is when the transparency log took the signature.
	Time *time.Time `json:"time,omitempty"`
	// PredicateType is an attestation's; "" for a signature.
	PredicateType    string `json:"predicateType,omitempty"`
	SourceRepository string `json:"sourceRepository,omitempty"`
	SourceCommit     string `json:"sourceCommit,omitempty"`
	Format           string `json:"format"`
}

// Who says, in a few words, who signed: the signatures' signers, each
// once; "unsigned" when none verified.
func (s *Signature) Who() string {
	var ids []string
	seen := map[string]bool{}
	for _, g := range s.Signers {
		if g.PredicateType != "" || seen[g.Identity] {
			continue
		}
		seen[g.Identity] = true
		ids = append(ids, g.Identity)
	}
	switch {
	case len(ids) > 0:
		return "signed by " + strings.Join(ids, ", ")
	case len(s.Signers) > 0:
		return "attested, not signed"
	case s.Status == "invalid":
		return "signature invalid"
	case s.Status == "unknown":
		return "signatures not read"
	}
	return "unsigned"
}

// Plain tells a digest unsigned, of which no rule and no earlier signer
// asked a signature.
func (s *Signature) Plain() bool {
	return s.Status == "unsigned" && s.Problem == "" && s.Rule == "" && len(s.Continuity) == 0
}

// Refused counts the references whose digest the signature policy refused.
func (r *Report) Refused() int {
	n := 0
	for _, e := range r.Entries {
		if e.Status == Failed && e.Signature != nil && e.Signature.Refused {
			n++
		}
	}
	return n
}

// SignatureSummary counts the digests whose signatures were judged, each
// image and digest once: "signatures: 3 signed, 2 unsigned, 1 refused";
// "" when none was.
func (r *Report) SignatureSummary() string {
	seen := map[string]bool{}
	counts := map[string]int{}
	refused := 0
	for _, e := range r.Entries {
		s := e.Signature
		if s == nil || seen[e.Image+"@"+e.Digest] {
			continue
		}
		seen[e.Image+"@"+e.Digest] = true
		counts[s.Status]++
		if s.Refused {
			refused++
		}
	}
	var parts []string
	for _, st := range []string{"signed", "unsigned", "invalid", "unknown"} {
		if n := counts[st]; n > 0 {
			word := st
			if st == "unknown" {
				word = "not read"
			}
			parts = append(parts, fmt.Sprintf("%d %s", n, word))
		}
	}
	if refused > 0 {
		parts = append(parts, fmt.Sprintf("%d refused by the policy", refused))
	}
	if len(parts) == 0 {
		return ""
	}
	return "signatures: " + strings.Join(parts, ", ")
}

// Source is the source repository and commit the signers name, "" when
// none does.
func (s *Signature) Source() (repo, commit string) {
	for _, g := range s.Signers {
		if g.SourceRepository != "" {
			return g.SourceRepository, g.SourceCommit
		}
	}
	return "", ""
}

// Note is the signature in a few words for a line of text: who signed,
// and the policy's problem when it is not refused (audit); "" for a
// digest unsigned that no rule and no earlier signer asked to be signed,
// which says nothing a reader needs.
func (s *Signature) Note() string {
	if s == nil || s.Plain() {
		return ""
	}
	note := s.Who()
	if s.Problem != "" && !s.Refused {
		note += "; signature policy not met (audit): " + s.Problem
	}
	return note
}

// Action tells an entry of an action or a reusable workflow a workflow
// names by ref (not an image).
func (e Entry) Action() bool { return e.Kind == "actionStep" || e.Kind == "reusableWorkflow" }

// Named is what the entry follows, as people write it: image:tag, or
// owner/repo@ref for an action.
func (e Entry) Named() string {
	if e.Action() {
		return e.Image + "@" + e.Tag
	}
	return e.Image + ":" + e.Tag
}

// Unpinned are the references an offline check found without a digest,
// each once, in the order reported: images as written, and actions as the
// repository and the ref asked of it (owner/repo@ref, a path dropped).
func (r *Report) Unpinned() (images, actions []string) {
	seen := map[string]bool{}
	for _, e := range r.Entries {
		if e.Status != Unpinned || seen[e.Ref] {
			continue
		}
		seen[e.Ref] = true
		if !e.Action() {
			images = append(images, e.Ref)
			continue
		}
		parts := strings.SplitN(e.Image, "/", 3)
		if len(parts) >= 2 {
			actions = append(actions, parts[0]+"/"+parts[1]+"@"+e.Tag)
		}
	}
	return images, actions
}

// Location is "file:line".
func (e Entry) Location() string { return fmt.Sprintf("%s:%d", e.File, e.Line) }

// Changes reports whether the entry changes its file: a new or renewed
// digest, or a pull policy set.
func (e Entry) Changes() bool {
	return e.Status == Pinned || e.Status == Updated || e.Status == Vanished || e.PolicyChanged()
}

// PolicyChanged reports whether imagePullPolicy was added or changed.
func (e Entry) PolicyChanged() bool {
	// "kept" first: the value kept is the checkout's, and may hold anything
	return !strings.HasPrefix(e.PullPolicy, "kept ") && (strings.HasPrefix(e.PullPolicy, "added ") || strings.Contains(e.PullPolicy, " -> "))
}

// Warning is a file pinbot could not understand, left as it was.
type Warning struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
	// MayNameImages says the file holds an image-like key or a FROM: what
	// it names is unknown, so a gate (--check) must not pass it.
	MayNameImages bool `json:"mayNameImages,omitempty"`
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Message)
	}
	return fmt.Sprintf("%s: %s", w.File, w.Message)
}

// FileError is a file that could not be written.
type FileError struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

// Report is a run.
type Report struct {
	// Version is the pinbot that made the report (as "pinbot version" says).
	Version  string      `json:"version,omitempty"`
	Files    int         `json:"filesScanned"`
	Entries  []Entry     `json:"entries"`
	Warnings []Warning   `json:"warnings,omitempty"`
	Changed  []string    `json:"filesChanged,omitempty"`
	Errors   []FileError `json:"writeErrors,omitempty"`
	// Unread are files in scope that could not be read (too large, no
	// permission, too complex to scan): what they name is unknown, so a
	// run with any fails.
	Unread []FileError `json:"unreadFiles,omitempty"`
	// Offline is true when no registry was asked.
	Offline bool `json:"offline,omitempty"`
	// Requests counts the registry requests the run made, by kind.
	Requests *Requests `json:"requests,omitempty"`
	// FirstSeen is when each tag's move (canonical tag "@" new digest) was
	// first seen, for the next run to read back (see Cooldown).
	FirstSeen map[string]time.Time `json:"firstSeen,omitempty"`
	// PullRequest is what "pinbot pr" did.
	PullRequest *PullRequest `json:"pullRequest,omitempty"`
	// Charts are the Helm charts of the checkout that hold image values,
	// each judged by rendering it, or not judged and why.
	Charts []Chart `json:"charts,omitempty"`
}

// Chart is how one Helm chart was judged.
type Chart struct {
	Dir string `json:"dir"`
	// Judged: the chart rendered, and its image values were judged by
	// what the render shows. Reason says why it was not.
	Judged bool   `json:"judged"`
	Reason string `json:"reason,omitempty"`
	// Sets are the values sets it was rendered with ("values.yaml",
	// "values.yaml + ci/tls-values.yaml").
	Sets []string `json:"valueSets,omitempty"`
	// Images are its image values, and the images it renders from none;
	// Pinned those pinned and proved (or current), Left those left alone
	// or failed.
	Images int `json:"images"`
	Pinned int `json:"pinned"`
	Left   int `json:"left"`
	// Ignored: not judged, and the configuration's ignore names it, so
	// the gate does not fail on it.
	Ignored bool `json:"ignored,omitempty"`
	// Unowned are images the chart renders that no value of the checkout
	// makes (counted in Images and Left): a packaged subchart's, or one a
	// template builds from no value. They are left as they are.
	Unowned []Unowned `json:"unownedImages,omitempty"`
}

// Unowned is an image a chart renders from no value pinbot can edit.
type Unowned struct {
	Ref    string `json:"ref"`
	Reason string `json:"reason"`
}

// Unjudged are the charts not judged that the configuration does not
// ignore: what pinbot did not look at, which fails a run.
func (r *Report) Unjudged() []Chart {
	var out []Chart
	for _, c := range r.Charts {
		if !c.Judged && !c.Ignored {
			out = append(out, c)
		}
	}
	return out
}

// Requests counts the registry requests a run made, by kind.
type Requests struct {
	TagHeads     int64 `json:"tagHeads"`               // HEAD of a tag's manifest
	DigestHeads  int64 `json:"digestHeads,omitempty"`  // HEAD by digest: does it still exist?
	ManifestGets int64 `json:"manifestGets,omitempty"` // GET of a manifest (a refused HEAD, platforms, --verify)
	BlobGets     int64 `json:"blobGets,omitempty"`     // GET of an image's config (its platform)
	Pings        int64 `json:"pings,omitempty"`        // GET /v2/, once per registry
	// SignatureGets are the GETs of the signatures of digests judged: their
	// referrers, cosign's tags, the manifests and blobs those list.
	SignatureGets  int64 `json:"signatureGets,omitempty"`
	SignatureHeads int64 `json:"signatureHeads,omitempty"` // HEADs of cosign's tags
	// GitHub's API, asked about actions: every request, those asked with
	// the commit known (If-None-Match), and of those the 304s
	GitHub            int64 `json:"github,omitempty"`
	GitHubConditional int64 `json:"githubConditional,omitempty"`
	GitHubNotModified int64 `json:"githubNotModified,omitempty"`
}

// PullRequest is the pull request a run opened, updated or closed.
type PullRequest struct {
	Action string `json:"action"` // opened, updated, unchanged, closed, nothing
	Number int    `json:"number,omitempty"`
	URL    string `json:"url,omitempty"`
	Branch string `json:"branch"`
	Base   string `json:"base"`
	DryRun bool   `json:"dryRun,omitempty"`
}

// Counts tallies entries by status.
func (r *Report) Counts() map[Status]int {
	c := map[Status]int{}
	for _, e := range r.Entries {
		c[e.Status]++
	}
	return c
}

// Failed reports whether any reference failed, any file could not be
// read or written, or any chart could not be judged.
func (r *Report) Failed() bool {
	return r.Counts()[Failed] > 0 || len(r.Errors) > 0 || len(r.Unread) > 0 || len(r.Unjudged()) > 0
}

// Ununderstood are the files not understood that may name images.
func (r *Report) Ununderstood() []Warning {
	var out []Warning
	for _, w := range r.Warnings {
		if w.MayNameImages {
			out = append(out, w)
		}
	}
	return out
}

// Work are the entries that change their files (or, offline, that lack a
// digest), pointing into r.Entries: a tree of many thousand references has
// its entries once.
func (r *Report) Work() []*Entry {
	out := make([]*Entry, 0, r.WorkCount())
	for i := range r.Entries {
		if e := &r.Entries[i]; e.isWork() {
			out = append(out, e)
		}
	}
	return out
}

// WorkCount is len(r.Work()), counted without making it.
func (r *Report) WorkCount() int {
	n := 0
	for i := range r.Entries {
		if r.Entries[i].isWork() {
			n++
		}
	}
	return n
}

func (e *Entry) isWork() bool { return e.Changes() || e.Status == Unpinned }

// Sort orders entries by file, line and column.
func (r *Report) Sort() {
	less := func(i, j int) bool {
		a, b := &r.Entries[i], &r.Entries[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	}
	if !sort.SliceIsSorted(r.Entries, less) { // as a run makes them, most often
		sort.SliceStable(r.Entries, less)
	}
	sort.Slice(r.Warnings, func(i, j int) bool {
		if r.Warnings[i].File != r.Warnings[j].File {
			return r.Warnings[i].File < r.Warnings[j].File
		}
		return r.Warnings[i].Line < r.Warnings[j].Line
	})
	sort.Strings(r.Changed)
	for _, fe := range [][]FileError{r.Errors, r.Unread} {
		sort.Slice(fe, func(i, j int) bool { return fe[i].File < fe[j].File })
	}
}

// Summary is one line: "12 pinned, 3 updated, 40 current, 2 skipped, 1 failed; 9 files changed".
func (r *Report) Summary() string {
	c := r.Counts()
	var parts []string
	for _, s := range []Status{Vanished, Pinned, Updated, Held, Current, Unverified, Unpinned, Skipped, Failed} {
		switch {
		case c[s] == 0:
		case s == Vanished:
			parts = append(parts, fmt.Sprintf("%d renewed (the pinned digest vanished upstream)", c[s]))
		case s == Unverified:
			parts = append(parts, fmt.Sprintf("%d pinned (not verified offline)", c[s]))
		case s == Held:
			parts = append(parts, fmt.Sprintf("%d held (a tag moved within --min-age)", c[s]))
		default:
			parts = append(parts, fmt.Sprintf("%d %s", c[s], s))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no image references")
	}
	s := strings.Join(parts, ", ") + fmt.Sprintf(" in %d %s scanned", r.Files, plural(r.Files, "file", "files"))
	if n := len(r.Changed); n > 0 {
		s += fmt.Sprintf("; %d %s changed", n, plural(n, "file", "files"))
	}
	if n := len(r.Warnings); n > 0 {
		s += fmt.Sprintf("; %d %s not understood", n, plural(n, "file", "files"))
	}
	if n := len(r.Unread); n > 0 {
		s += fmt.Sprintf("; %d %s not read", n, plural(n, "file", "files"))
	}
	if len(r.Charts) > 0 {
		judged, pinned, images := 0, 0, 0
		for _, c := range r.Charts {
			if c.Judged {
				judged++
				pinned += c.Pinned
				images += c.Images
			}
		}
		s += fmt.Sprintf("; %d of %d Helm %s judged by rendering (%d of %d image values pinned)", judged, len(r.Charts), plural(len(r.Charts), "chart", "charts"), pinned, images)
		if n := len(r.Unjudged()); n > 0 {
			s += fmt.Sprintf(", %d not judged", n)
		}
	}
	cached := 0
	for _, e := range r.Entries {
		if e.Cached {
			cached++
		}
	}
	if cached > 0 {
		s += fmt.Sprintf("; %d %s from the cache", cached, plural(cached, "digest", "digests"))
	}
	if n := len(r.Errors); n > 0 {
		s += fmt.Sprintf("; %d %s not written", n, plural(n, "file", "files"))
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// VanishedNote says why a vanished digest is urgent.
const VanishedNote = "the pinned digest no longer exists upstream: new nodes cannot pull it"

// ShortDigest is the first 12 hex digits of a digest: "sha256:0123456789ab".
func ShortDigest(d string) string {
	if len(d) == 40 && !strings.HasPrefix(d, "sha256:") {
		return d[:12] // a commit
	}
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

// Facts are what a reviewer wants to know of one image (see resolve.Facts).
type Facts struct {
	Created   *time.Time `json:"created,omitempty"`
	Platforms []string   `json:"platforms,omitempty"`
	Size      int64      `json:"size"`
	Source    string     `json:"source,omitempty"`
	Revision  string     `json:"revision,omitempty"`
	// TooLarge names what was too large to read ("manifest", "config"):
	// what it would tell is not known.
	TooLarge string `json:"tooLarge,omitempty"`
}

// Evidence sets a moved tag's old digest beside its new one.
type Evidence struct {
	Old Facts `json:"old"`
	New Facts `json:"new"`
}

// HeldNote says how long ago a held tag moved and when it is proposed.
func HeldNote(e Entry, now time.Time) string {
	if e.FirstSeen == nil || e.Eligible == nil {
		return "held"
	}
	left := e.Eligible.Sub(now).Round(time.Minute)
	if left < 0 {
		left = 0
	}
	return fmt.Sprintf("moved %s ago; proposed after %s (%s left)", now.Sub(*e.FirstSeen).Round(time.Minute), e.Eligible.UTC().Format("2006-01-02 15:04 UTC"), left)
}
