package report

import (
	"encoding/json"
	"fmt"
	"github.com/pinbot/pinbot/internal/imageref"
	"regexp"
	"sort"
	"strings"
	"time"
)

// MaxBody is the longest pull request body GitHub accepts, in characters.
const MaxBody = 65536

// Title is a pull request title that says what the change does.
func (r *Report) Title() string {
	c := r.Counts()
	pinned, updated := c[Pinned], c[Updated]+c[Vanished]
	switch {
	case pinned > 0 && updated > 0:
		return fmt.Sprintf("Pin %d container %s and update %d %s", pinned, plural(pinned, "image", "images"), updated, plural(updated, "digest", "digests"))
	case pinned == 1:
		return "Pin 1 container image to its digest"
	case pinned > 0:
		return fmt.Sprintf("Pin %d container images to their digests", pinned)
	case updated > 0:
		return fmt.Sprintf("Update %d container image %s: %s moved upstream", updated, plural(updated, "digest", "digests"), plural(updated, "its tag", "their tags"))
	}
	return "Set imagePullPolicy on pinned containers"
}

// CommitMessage is the commit's message: the title, then each image once.
func (r *Report) CommitMessage() string {
	var b strings.Builder
	b.WriteString(r.Title())
	b.WriteString("\n")
	for _, sec := range []struct {
		status Status
		head   string
	}{{Vanished, "Renewed (the pinned digest no longer exists upstream):"}, {Updated, "Updated (the tag moved upstream):"}, {Pinned, "Pinned:"}} {
		seen := map[string]bool{}
		var lines []string
		for _, e := range r.Entries {
			if e.Status != sec.status {
				continue
			}
			line := fmt.Sprintf("  %s  %s", e.Named(), ShortDigest(e.Digest))
			if e.Status == Updated || e.Status == Vanished {
				line = fmt.Sprintf("  %s  %s -> %s", e.Named(), ShortDigest(e.OldDigest), ShortDigest(e.Digest))
			}
			if !seen[line] {
				seen[line] = true
				lines = append(lines, line)
			}
		}
		if len(lines) > 0 {
			sort.Strings(lines)
			b.WriteString("\n" + sec.head + "\n" + strings.Join(lines, "\n") + "\n")
		}
	}
	return b.String()
}

// CurrentComment is posted on a pull request pinbot closes because every
// reference is pinned and current.
const CurrentComment = "Every image reference is now pinned to the digest its tag points at: nothing is left to change, " +
	"so pinbot closes this pull request and deletes its branch. It opens a new one when a tag moves."

// Body is the pull request's description for a reviewer: what was newly
// pinned, what was updated (old digest -> new), pull policy changes, what
// was skipped or failed and why, and how to make pinbot leave an image
// alone. It is laid out by importance, and fitted to MaxBody characters in
// that order: the first sightings pinbot reads back (one line after the
// opening sentence) are never cut; the evidence shrinks first, then the
// rows of what was left alone or not read, and the rows of the pins and
// failures last, each cut said.
func (r *Report) Body(version string) string {
	all := budget{evidence: -1, rows: -1, pins: -1}
	if body := r.body(version, all); len(body) <= MaxBody {
		return body
	}
	fits := func(b budget) bool { return len(r.body(version, b)) <= MaxBody }
	b := all
	b.evidence = fit(r.evidenceCount(), func(k int) bool { b.evidence = k; return fits(b) })
	if b.evidence < 0 {
		b.evidence = 0
		b.rows = fit(r.rowCount(), func(k int) bool { b.rows = k; return fits(b) })
		if b.rows < 0 {
			b.rows = 0
			b.pins = max(0, fit(r.rowCount(), func(k int) bool { b.pins = k; return fits(b) }))
		}
	}
	body := r.body(version, b)
	if len(body) > MaxBody { // even without rows: cut at a line
		cut := strings.LastIndex(body[:MaxBody-200], "\n")
		body = body[:cut] + "\n\n_The description is cut here: it is longer than GitHub accepts._\n"
	}
	return body
}

// budget is how much of each part a body shows: evidence blocks, rows of
// each table of what was left alone or not read, rows of each table of
// pins and failures; -1 is all.
type budget struct{ evidence, rows, pins int }

// fit is the largest k in [0, n] for which ok holds (ok holds up to some k
// and not past it), or -1 when it holds for none.
func fit(n int, ok func(k int) bool) int {
	if ok(n) {
		return n
	}
	lo, hi := -1, n-1
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if ok(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// rowCount bounds the rows of any one table of the body.
func (r *Report) rowCount() int { return len(r.Entries) + len(r.Unread) + len(r.Warnings) }

// evidenceCount is how many moved tags carry evidence.
func (r *Report) evidenceCount() int {
	n := 0
	for _, e := range r.Entries {
		if e.Evidence != nil && e.Status == Updated {
			n++
		}
	}
	return n
}

// writeCharts is the table of Helm charts: judged by rendering (with which
// values sets, how many image values pinned), or not, and why; at most
// maxRows rows (-1: all).
func writeCharts(b *strings.Builder, r *Report, maxRows int) {
	if len(r.Charts) == 0 {
		return
	}
	b.WriteString("\n#### Helm charts\n\npinbot judges a chart's image values by rendering it with Helm's engine, with each values set it ships.\n\n| Chart | Judged | Image values pinned | Values sets |\n| --- | --- | --- | --- |\n")
	for i, c := range r.Charts {
		if maxRows >= 0 && i >= maxRows {
			fmt.Fprintf(b, "\n_%d more charts: `pinbot pin --output json` lists them._\n", len(r.Charts)-i)
			break
		}
		judged := "yes"
		switch {
		case !c.Judged && c.Ignored:
			judged = "no (ignored): " + cell(c.Reason)
		case !c.Judged:
			judged = "**no**: " + cell(c.Reason)
		}
		var sets []string
		for _, s := range c.Sets {
			sets = append(sets, code(s))
		}
		if len(sets) > 4 {
			sets = append(sets[:4], fmt.Sprintf("and %d more", len(sets)-4))
		}
		pinned := fmt.Sprintf("%d of %d", c.Pinned, c.Images)
		if n := len(c.Unowned); n > 0 {
			pinned += fmt.Sprintf(" (%d rendered from no value pinbot can edit, such as %s)", n, code(c.Unowned[0].Ref))
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", code(c.Dir), judged, pinned, strings.Join(sets, ", "))
	}
}

// noteOf is an entry's note for a table cell: " (note)", or "", with a
// link to the commits between an action's old and new commit.
func noteOf(e Entry) string {
	out := ""
	if e.Note != "" {
		out = " (" + cell(e.Note) + ")"
	}
	if compareRE.MatchString(e.Compare) {
		out += " ([compare](" + e.Compare + "))"
	}
	return out
}

// compareRE is a compare page a link is made of: GitHub's web address,
// owner/repo, two commits.
var compareRE = regexp.MustCompile(`^https://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[A-Za-z0-9._-]+)*/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/compare/[0-9a-f]{40}\.\.\.[0-9a-f]{40}$`)

func (r *Report) body(version string, bud budget) string {
	var b strings.Builder
	c := r.Counts()
	var what []string
	if n := c[Pinned]; n > 0 {
		what = append(what, fmt.Sprintf("pins **%d** image %s to the digest %s tag points at", n, plural(n, "reference", "references"), plural(n, "its", "their")))
	}
	if n := c[Vanished]; n > 0 {
		what = append(what, fmt.Sprintf("renews **%d** pinned %s that no longer %s upstream", n, plural(n, "digest", "digests"), plural(n, "exists", "exist")))
	}
	if n := c[Updated]; n > 0 {
		what = append(what, fmt.Sprintf("updates **%d** pinned %s whose tag moved upstream", n, plural(n, "digest", "digests")))
	}
	if len(what) == 0 {
		what = append(what, "sets imagePullPolicy on containers whose images are pinned")
	}
	fmt.Fprintf(&b, "This pull request %s. Each reference keeps its tag for people to read; the digest makes every node run the same bytes.\n", strings.Join(what, ", and "))
	if block := FirstSeenBlock(r.FirstSeen); block != "" {
		b.WriteString("\n" + block + "\n")
	}

	cut := 0 // rows left out
	table := func(title, header string, entries []Entry, maxRows int, row func(Entry) string) {
		if len(entries) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n### %s\n\n%s\n", title, header)
		for i, e := range entries {
			if maxRows >= 0 && i >= maxRows {
				cut += len(entries) - i
				break
			}
			b.WriteString(row(e) + "\n")
		}
	}
	by := func(s Status) []Entry {
		var out []Entry
		for _, e := range r.Entries {
			if e.Status == s {
				out = append(out, e)
			}
		}
		return out
	}
	table("Urgent: the pinned digest no longer exists upstream", "New nodes cannot pull these images until this is merged.\n\n| File | Image | Tag | Digest |\n| --- | --- | --- | --- |", by(Vanished), bud.pins, func(e Entry) string {
		return fmt.Sprintf("| %s | %s | %s | %s (gone) → %s%s |", code(e.Location()), code(e.Image), code(e.Tag), code(ShortDigest(e.OldDigest)), code(ShortDigest(e.Digest)), noteOf(e))
	})
	table("Updated: the tag moved upstream", "| File | Image | Tag | Digest |\n| --- | --- | --- | --- |", by(Updated), bud.pins, func(e Entry) string {
		return fmt.Sprintf("| %s | %s | %s | %s → %s%s |", code(e.Location()), code(e.Image), code(e.Tag), code(ShortDigest(e.OldDigest)), code(ShortDigest(e.Digest)), noteOf(e))
	})
	table("Held: moved upstream less than the cooldown ago", "pinbot proposes a moved tag's new digest once it has seen the tag there for `--min-age`.\n\n| File | Image | Tag | New digest | First seen | Proposed after |\n| --- | --- | --- | --- | --- | --- |", by(Held), bud.pins, func(e Entry) string {
		first, after := "", ""
		if e.FirstSeen != nil && e.Eligible != nil {
			first, after = e.FirstSeen.UTC().Format("2006-01-02 15:04 UTC"), e.Eligible.UTC().Format("2006-01-02 15:04 UTC")
		}
		return fmt.Sprintf("| %s | %s | %s | %s | %s | %s |", code(e.Location()), code(e.Image), code(e.Tag), code(ShortDigest(e.Digest)), first, after)
	})
	table("Newly pinned", "| File | Image | Tag | Digest |\n| --- | --- | --- | --- |", by(Pinned), bud.pins, func(e Entry) string {
		return fmt.Sprintf("| %s | %s | %s | %s%s |", code(e.Location()), code(e.Image), code(e.Tag), code(ShortDigest(e.Digest)), noteOf(e))
	})

	var added, changed, kept int
	keptValues := map[string]bool{}
	for _, e := range r.Entries {
		switch {
		case strings.HasPrefix(e.PullPolicy, "kept "):
			kept++
			keptValues[strings.TrimPrefix(e.PullPolicy, "kept ")] = true
		case strings.HasPrefix(e.PullPolicy, "added "):
			added++
		case strings.Contains(e.PullPolicy, " -> "):
			changed++
		}
	}
	if added+changed+kept > 0 {
		b.WriteString("\n### imagePullPolicy\n\n")
		if added+changed > 0 {
			policy := ""
			for _, e := range r.Entries {
				if e.PolicyChanged() {
					f := strings.Fields(e.PullPolicy)
					policy = f[len(f)-1]
					break
				}
			}
			var parts []string
			if added > 0 {
				parts = append(parts, fmt.Sprintf("added on %d", added))
			}
			if changed > 0 {
				parts = append(parts, fmt.Sprintf("changed on %d", changed))
			}
			fmt.Fprintf(&b, "Pinned containers now say %s (%s %s).", code("imagePullPolicy: "+policy), strings.Join(parts, ", "), plural(added+changed, "container", "containers"))
			if policy == "IfNotPresent" {
				b.WriteString(" A digest cannot go stale, so pulling on every start would only add a registry round trip.")
			}
			b.WriteString("\n")
		}
		if kept > 0 {
			var vals []string
			for v := range keptValues {
				vals = append(vals, code(v))
			}
			sort.Strings(vals)
			fmt.Fprintf(&b, "%d %s kept %s as written.\n", kept, plural(kept, "container", "containers"), strings.Join(vals, ", "))
		}
	}

	table("Not pinned: these could not be resolved or checked", "| File | Reference | Error |\n| --- | --- | --- |", by(Failed), bud.pins, func(e Entry) string {
		return fmt.Sprintf("| %s | %s | %s |", code(e.Location()), code(e.Ref), cell(e.Error))
	})
	cut += writeSignatures(&b, r.Entries, bud.pins)
	if left := writeEvidence(&b, by(Updated), bud.evidence); left > 0 {
		fmt.Fprintf(&b, "\n_Evidence for %d more moved %s left out: the description would be longer than GitHub accepts. `pinbot pin --output json` shows it all._\n", left, plural(left, "tag", "tags"))
	}
	if skipped := by(Skipped); len(skipped) > 0 {
		fmt.Fprintf(&b, "\n<details><summary>Left alone: %d %s</summary>\n", len(skipped), plural(len(skipped), "reference", "references"))
		table("Left alone", "| File | Reference | Why |\n| --- | --- | --- |", skipped, bud.rows, func(e Entry) string {
			return fmt.Sprintf("| %s | %s | %s |", code(e.Location()), code(e.Ref), cell(e.Reason))
		})
		b.WriteString("\n</details>\n")
	}
	writeCharts(&b, r, bud.rows)
	if len(r.Unread) > 0 {
		b.WriteString("\n### Files pinbot could not read\n\nWhat they name is unknown, so this pull request may not pin everything.\n\n")
		for i, fe := range r.Unread {
			if bud.rows >= 0 && i >= bud.rows {
				cut += len(r.Unread) - i
				break
			}
			fmt.Fprintf(&b, "- %s: %s\n", code(fe.File), cell(fe.Error))
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(&b, "\n<details><summary>Files pinbot could not understand: %d</summary>\n\n", len(r.Warnings))
		for i, w := range r.Warnings {
			if bud.rows >= 0 && i >= bud.rows {
				cut += len(r.Warnings) - i
				break
			}
			fmt.Fprintf(&b, "- %s: %s\n", code(locate(w.File, w.Line)), cell(w.Message))
		}
		b.WriteString("\n</details>\n")
	}
	if cut > 0 {
		fmt.Fprintf(&b, "\n_%d more %s left out: the description would be longer than GitHub accepts. `pinbot pin --check` lists them all._\n", cut, plural(cut, "row", "rows"))
	}
	fmt.Fprintf(&b, "\n---\n<sub>To leave an image alone, put `# pinbot:ignore` on its line or the line above it, or list it under `ignore:` in `.pinbot.yaml`. Opened by pinbot %s.</sub>\n", version)
	return b.String()
}

// firstSeenRE finds the block a pull request body keeps the first sightings
// of moved tags in, for the next run (see FirstSeenBlock): a line of its
// own, which no quoted text can make, as every string a body quotes is on
// one line inside a table row, a list item or a code span.
var firstSeenRE = regexp.MustCompile(`(?m)^<!-- pinbot:first-seen (\{[^<>\n]*\}) -->$`)

// FirstSeenBlock is the machine-readable block of first sightings a pull
// request body carries: an HTML comment on a line of its own, which no one
// sees; "" for none.
func FirstSeenBlock(seen map[string]time.Time) string {
	if len(seen) == 0 {
		return ""
	}
	clean := map[string]string{}
	for k, t := range seen {
		if imageref.FirstSeenKey(k) {
			clean[k] = t.UTC().Format(time.RFC3339)
		}
	}
	data, err := json.Marshal(clean)
	if err != nil || len(clean) == 0 {
		return ""
	}
	return "<!-- pinbot:first-seen " + string(data) + " -->"
}

// ParseFirstSeen reads the first sightings back from a pull request body
// opened at opened: only from the one block pinbot writes (a body holding
// two holds none pinbot can tell for its own, and is read as none), and
// none earlier than opened, when the pull request was opened and pinbot
// could first have seen a move there (a zero opened bounds nothing). What
// does not parse, or is not a canonical tag and a digest, is dropped.
func ParseFirstSeen(body string, opened time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	m := firstSeenRE.FindAllStringSubmatch(body, 2)
	if len(m) != 1 {
		return out
	}
	var raw map[string]string
	if json.Unmarshal([]byte(m[0][1]), &raw) != nil {
		return out
	}
	for k, v := range raw {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil || !imageref.FirstSeenKey(k) {
			continue
		}
		if t.Before(opened) {
			t = opened
		}
		out[k] = t.UTC()
	}
	return out
}

// githubSourceRE is a source on GitHub a link can be made of: owner and
// repository, nothing else.
var githubSourceRE = regexp.MustCompile(`^(?:git\+)?https://github\.com/([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9._-]{1,100}?)(?:\.git)?/?$`)

// revisionRE is a commit a link can name.
var revisionRE = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// githubRepo is the owner/name of a source on GitHub, "" for any other.
func githubRepo(source string) string {
	m := githubSourceRE.FindStringSubmatch(source)
	if m == nil {
		return ""
	}
	return m[1] + "/" + m[2]
}

// evidenceText is the most characters of one quoted evidence value (a
// source, a revision, a platform) shown, and evidencePlatforms the most
// platforms listed on one side: an image's labels and index are its
// publisher's to fill, and no value of theirs may crowd the pins out.
const (
	evidenceText      = 200
	evidencePlatforms = 12
)

// evidenceCut is s cut to evidenceText characters, saying so.
func evidenceCut(s string) string {
	n := 0
	for i := range s {
		if n == evidenceText {
			return s[:i] + "… (cut)"
		}
		n++
	}
	return s
}

// writeEvidence sets, for each moved tag, its old image beside its new:
// creation time, platforms (added and dropped), size, and source; for at
// most limit tags (-1: all). It returns how many it left out.
func writeEvidence(b *strings.Builder, entries []Entry, limit int) (left int) {
	seen := map[string]bool{}
	shown := 0
	for _, e := range entries {
		ev := e.Evidence
		key := e.Image + ":" + e.Tag + "@" + e.Digest
		if ev == nil || seen[key] {
			continue
		}
		seen[key] = true
		if limit >= 0 && shown >= limit {
			left++
			continue
		}
		if shown == 0 {
			b.WriteString("\n### Evidence: what moved under each tag\n")
		}
		shown++
		fmt.Fprintf(b, "\n%s: %s → %s\n\n| | before | after |\n| --- | --- | --- |\n", code(e.Image+":"+e.Tag), code(ShortDigest(e.OldDigest)), code(ShortDigest(e.Digest)))
		when := func(f Facts) string {
			switch {
			case f.Created != nil:
				return f.Created.UTC().Format("2006-01-02 15:04 UTC")
			case f.TooLarge != "":
				return tooLarge(f)
			}
			return "not told"
		}
		fmt.Fprintf(b, "| created | %s | %s |\n", when(ev.Old), when(ev.New))
		fmt.Fprintf(b, "| platforms | %s | %s%s |\n", platformList(ev.Old), platformList(ev.New), platformChange(ev.Old.Platforms, ev.New.Platforms))
		size := func(f Facts) string {
			if f.TooLarge == "manifest" {
				return tooLarge(f)
			}
			return megabytes(f.Size)
		}
		change := ""
		if ev.Old.TooLarge != "manifest" && ev.New.TooLarge != "manifest" {
			change = " (" + signedMegabytes(ev.New.Size-ev.Old.Size) + ")"
		}
		fmt.Fprintf(b, "| size (compressed) | %s | %s%s |\n", size(ev.Old), size(ev.New), change)
		fmt.Fprintf(b, "| source | %s | %s |\n", sourceCell(ev.Old), sourceCell(ev.New))
		if repo := githubRepo(ev.Old.Source); repo != "" && repo == githubRepo(ev.New.Source) &&
			revisionRE.MatchString(ev.Old.Revision) && revisionRE.MatchString(ev.New.Revision) && ev.Old.Revision != ev.New.Revision {
			fmt.Fprintf(b, "\nChanges: https://github.com/%s/compare/%s...%s\n", repo, ev.Old.Revision, ev.New.Revision)
		}
	}
	return left
}

// platformList is an image's platforms, at most evidencePlatforms of them.
func platformList(f Facts) string {
	if len(f.Platforms) == 0 && f.TooLarge != "" {
		return tooLarge(f)
	}
	return someCodes(f.Platforms)
}

// someCodes is list as code, at most evidencePlatforms of its values.
func someCodes(list []string) string {
	if len(list) <= evidencePlatforms {
		return codes(list)
	}
	return codes(list[:evidencePlatforms]) + fmt.Sprintf(" and %d more", len(list)-evidencePlatforms)
}

// tooLarge says a value is unknown as what would tell it was too large to read.
func tooLarge(f Facts) string {
	return "too large: the " + f.TooLarge + " is over 4 MiB, not read"
}

// sourceCell is an image's source: a link to the revision on GitHub, or
// the values as code.
func sourceCell(f Facts) string {
	if repo := githubRepo(f.Source); repo != "" && revisionRE.MatchString(f.Revision) {
		return fmt.Sprintf("[%s@%s](https://github.com/%s/tree/%s)", repo, f.Revision[:min(12, len(f.Revision))], repo, f.Revision)
	}
	if f.Source == "" && f.TooLarge != "" {
		return tooLarge(f)
	}
	if f.Source == "" {
		return "not told"
	}
	s := code(evidenceCut(f.Source))
	if f.Revision != "" {
		s += " " + code(evidenceCut(f.Revision))
	}
	return s
}

func codes(list []string) string {
	if len(list) == 0 {
		return "not told"
	}
	var out []string
	for _, s := range list {
		out = append(out, code(evidenceCut(s)))
	}
	return strings.Join(out, ", ")
}

// platformChange calls out the platforms added and dropped.
func platformChange(old, new []string) string {
	in := func(list []string) map[string]bool {
		m := make(map[string]bool, len(list))
		for _, x := range list {
			m[x] = true
		}
		return m
	}
	inOld, inNew := in(old), in(new)
	var added, dropped []string
	for _, p := range new {
		if !inOld[p] {
			added = append(added, p)
		}
	}
	for _, p := range old {
		if !inNew[p] {
			dropped = append(dropped, p)
		}
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "added: "+someCodes(added))
	}
	if len(dropped) > 0 {
		parts = append(parts, "**dropped: "+someCodes(dropped)+"**")
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func megabytes(n int64) string {
	if n < 1e6 {
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

func signedMegabytes(n int64) string {
	if n >= 0 {
		return "+" + megabytes(n)
	}
	return "-" + megabytes(-n)
}

// writeSignatures is the table of who signed each digest judged (each
// image and digest once), and whether the policy is met; at most maxRows
// rows (-1: all). It returns the rows left out.
func writeSignatures(b *strings.Builder, entries []Entry, maxRows int) (cut int) {
	seen := map[string]bool{}
	rows, plain := 0, 0
	defer func() {
		if plain > 0 && rows > 0 {
			fmt.Fprintf(b, "\n%d other %s unsigned; no rule names %s, and no digest %s replace was signed.\n", plain, plural(plain, "digest is", "digests are"), plural(plain, "its image", "their images"), plural(plain, "it would", "they would"))
		}
	}()
	for _, e := range entries {
		s := e.Signature
		key := e.Image + "@" + e.Digest
		if s == nil || seen[key] {
			continue
		}
		if s.Plain() {
			seen[key] = true
			plain++
			continue
		}
		seen[key] = true
		if maxRows >= 0 && rows >= maxRows {
			cut++
			continue
		}
		if rows == 0 {
			b.WriteString("\n### Signatures\n\nWho signed each digest, as Sigstore's transparency log and the policy's keys verify it.\n\n| Image | Digest | Signed by | Logged | Source | Policy |\n| --- | --- | --- | --- | --- | --- |\n")
		}
		rows++
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", code(e.Image), code(ShortDigest(e.Digest)), signerCell(s), loggedCell(s), signatureSource(s), policyCell(s))
	}
	return cut
}

// problemText is the most characters of a signature policy's problem in a
// cell: enough for the signer before and the signer now.
const problemText = 600

// problemCut is a policy's problem, cut past problemText characters.
func problemCut(s string) string {
	if n := []rune(s); len(n) > problemText {
		return string(n[:problemText]) + "… (cut)"
	}
	return s
}

func signerCell(s *Signature) string {
	var out []string
	seen := map[string]bool{}
	for _, g := range s.Signers {
		what := g.Identity
		if g.PredicateType != "" {
			what += " (" + g.PredicateType + ")"
		}
		if seen[what] {
			continue
		}
		seen[what] = true
		c := code(evidenceCut(what))
		if g.Issuer != "" {
			c += " via " + code(evidenceCut(g.Issuer))
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return cell(s.Who())
	}
	if s.PerPlatform > 0 {
		out = append(out, fmt.Sprintf("(each of %d platforms)", s.PerPlatform))
	}
	return strings.Join(out, "<br>")
}

func loggedCell(s *Signature) string {
	for _, g := range s.Signers {
		if g.Time != nil {
			return g.Time.UTC().Format("2006-01-02 15:04 UTC")
		}
	}
	if len(s.Signers) > 0 {
		return "not logged"
	}
	return ""
}

func signatureSource(s *Signature) string {
	repo, commit := s.Source()
	if repo == "" {
		return ""
	}
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if commit != "" {
		return code(evidenceCut(repo)) + " @ " + code(evidenceCut(commit))
	}
	return code(evidenceCut(repo))
}

func policyCell(s *Signature) string {
	switch {
	case s.Refused:
		return "refused: " + cell(problemCut(s.Problem))
	case s.Problem != "":
		return "not met (audit): " + cell(problemCut(s.Problem))
	case s.Rule != "":
		return "rule met: " + code(evidenceCut(s.Rule))
	case len(s.Continuity) > 0:
		return "same signer as the digest replaced"
	}
	return ""
}
