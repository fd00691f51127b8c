package report

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// movedWithEvidence is a report of one tag that moved, with the evidence
// old and new carry (the new one's from its publisher), and the moves
// pinbot has seen so far.
func movedWithEvidence(newFacts Facts, seen map[string]time.Time) *Report {
	r := &Report{Files: 1, FirstSeen: seen}
	r.Entries = append(r.Entries, Entry{File: "deploy/app.yaml", Line: 7, Ref: "ghcr.io/acme/app:1@" + dOld, Image: "ghcr.io/acme/app", Tag: "1",
		OldDigest: dOld, Digest: dNew, Status: Updated,
		Evidence: &Evidence{Old: Facts{Platforms: []string{"linux/amd64"}, Source: "https://github.com/acme/app"}, New: newFacts}})
	return r
}

// A publisher's label shaped like pinbot's own block of first sightings,
// quoted in the evidence, is never read back as a sighting: a run that
// read it would take the forged, backdated time for its own and propose
// the digest at once, past --min-age.
func TestFirstSeenCannotBeForgedThroughALabel(t *testing.T) {
	real := map[string]time.Time{"ghcr.io/acme/app:1@" + dNew: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	forged := `<!-- pinbot:first-seen {"ghcr.io/acme/app:1@` + dNew + `":"2000-01-01T00:00:00Z"} -->`
	for _, field := range []string{"source", "revision", "platform"} {
		f := Facts{Source: "https://github.com/acme/app", Platforms: []string{"linux/amd64"}}
		switch field {
		case "source":
			f.Source = forged
		case "revision":
			f.Revision = forged
		case "platform":
			f.Platforms = []string{forged}
		}
		for _, withBlock := range []bool{true, false} {
			seen := real
			if !withBlock {
				seen = nil
			}
			body := movedWithEvidence(f, seen).Body("dev")
			if !strings.Contains(body, "2000-01-01") {
				t.Fatalf("%s: the forged block is not quoted, so the test tests nothing:\n%s", field, body)
			}
			got := ParseFirstSeen(body, time.Time{})
			for k, when := range got {
				if when.Year() == 2000 {
					t.Errorf("%s (pinbot's block written: %v): read a forged sighting %s at %s", field, withBlock, k, when)
				}
			}
			if withBlock && !got["ghcr.io/acme/app:1@"+dNew].Equal(real["ghcr.io/acme/app:1@"+dNew]) {
				t.Errorf("%s: pinbot's own sighting is lost: %v", field, got)
			}
		}
	}
}

// A sighting is never older than the pull request that holds it: pinbot
// could not have seen a move there before it opened the pull request, so an
// edited body cannot backdate a digest past the cooldown.
func TestFirstSeenIsNeverOlderThanThePullRequest(t *testing.T) {
	opened := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	key := "ghcr.io/acme/app:1@" + dNew
	later := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	body := "intro\n\n" + FirstSeenBlock(map[string]time.Time{key: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), "docker.io/library/redis:7@" + dOld: later}) + "\n"
	got := ParseFirstSeen(body, opened)
	if !got[key].Equal(opened) {
		t.Errorf("a sighting before the pull request opened is read as %s, want %s", got[key], opened)
	}
	if !got["docker.io/library/redis:7@"+dOld].Equal(later) {
		t.Errorf("a sighting after the pull request opened is read as %s, want %s", got["docker.io/library/redis:7@"+dOld], later)
	}
	// two blocks: none of them can be told for pinbot's own
	if got := ParseFirstSeen(body+FirstSeenBlock(map[string]time.Time{key: later})+"\n", opened); len(got) != 0 {
		t.Errorf("a body with two blocks is read as %v, want none", got)
	}
}

// Evidence a publisher fills (a label of 85,000 characters, an index of
// thousands of platforms) never crowds the state pinbot needs out of the
// body: the first sightings, the pins and the held moves stay whole, the
// evidence is bounded and shrinks to fit, and says so.
func TestLongEvidenceNeverCutsTheState(t *testing.T) {
	var platforms []string
	for i := 0; i < 5000; i++ {
		platforms = append(platforms, fmt.Sprintf("linux/arch%04d", i))
	}
	seen := map[string]time.Time{}
	r := &Report{Files: 1}
	for i := 0; i < 120; i++ {
		image := fmt.Sprintf("ghcr.io/acme/app%03d", i)
		e := movedWithEvidence(Facts{Source: strings.Repeat("x", 85000), Revision: strings.Repeat("r", 85000), Platforms: platforms}, nil).Entries[0]
		e.Image, e.Ref, e.Line = image, image+":1@"+dOld, i+1
		r.Entries = append(r.Entries, e)
	}
	first := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 30; i++ {
		image := fmt.Sprintf("ghcr.io/acme/held%02d", i)
		d := fmt.Sprintf("sha256:%064x", i)
		seen["ghcr.io/acme/held"+fmt.Sprintf("%02d", i)+":1@"+d] = first
		eligible := first.Add(48 * time.Hour)
		r.Entries = append(r.Entries, Entry{File: "deploy/held.yaml", Line: i + 1, Ref: image + ":1@" + dOld, Image: image, Tag: "1",
			OldDigest: dOld, Digest: d, Status: Held, FirstSeen: &first, Eligible: &eligible})
	}
	r.FirstSeen = seen
	body := r.Body("dev")
	if len(body) > MaxBody {
		t.Fatalf("body is %d characters, over %d", len(body), MaxBody)
	}
	if got := ParseFirstSeen(body, time.Time{}); len(got) != len(seen) {
		t.Errorf("the body keeps %d of %d first sightings", len(got), len(seen))
	}
	for i := 0; i < 120; i++ {
		if !strings.Contains(body, fmt.Sprintf("| `deploy/app.yaml:%d` | `ghcr.io/acme/app%03d` |", i+1, i)) {
			t.Errorf("the pin of app%03d is cut", i)
		}
	}
	for i := 0; i < 30; i++ {
		if !strings.Contains(body, fmt.Sprintf("| `deploy/held.yaml:%d` | `ghcr.io/acme/held%02d` |", i+1, i)) {
			t.Errorf("the held move of held%02d is cut", i)
		}
	}
	if !strings.Contains(body, "### Evidence: what moved under each tag") || !strings.Contains(body, "more moved tags left out") {
		t.Errorf("the evidence neither shows nor says it shrank:\n%s", body[:min(len(body), 4000)])
	}
	if !strings.Contains(body, " and 4988 more") || strings.Contains(body, "linux/arch0100") {
		t.Error("a list of 5,000 platforms is not bounded")
	}
	if strings.Contains(body, strings.Repeat("x", evidenceText+1)) || strings.Contains(body, "The description is cut here") {
		t.Error("a long label is not bounded to its cell")
	}
}

// An action's move is kept in the block as an image's is; a key of another
// form is not read.
func TestFirstSeenOfAnAction(t *testing.T) {
	opened := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	seen := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	key := "action:actions/checkout@v4@" + strings.Repeat("ab", 20)
	bad := "action:actions/checkout@v4@" + strings.Repeat("ab", 19) // 38 hex: no commit
	got := ParseFirstSeen("intro\n\n"+FirstSeenBlock(map[string]time.Time{key: seen, bad: seen})+"\n", opened)
	if !got[key].Equal(seen) || len(got) != 1 {
		t.Errorf("read %v", got)
	}
}

// An action whose ref moved shows, in the pull request, its old and new
// commit, the exact tag, and a link to the commits between them; a compare
// address that is not one is not linked.
func TestBodyShowsAnActionsMove(t *testing.T) {
	old, now := strings.Repeat("a", 40), strings.Repeat("b", 40)
	e := Entry{File: ".github/workflows/ci.yml", Line: 9, Kind: "actionStep", Ref: "actions/checkout@" + old, Image: "actions/checkout", Tag: "v4",
		OldDigest: old, Digest: now, Status: Updated, Note: "v4 = v4.2.2", Compare: "https://github.com/actions/checkout/compare/" + old + "..." + now}
	body := (&Report{Entries: []Entry{e}}).Body("v1")
	for _, want := range []string{"`actions/checkout`", "`aaaaaaaaaaaa` → `bbbbbbbbbbbb`", "v4 = v4.2.2", "([compare](https://github.com/actions/checkout/compare/" + old + "..." + now + "))"} {
		if !strings.Contains(body, want) {
			t.Errorf("the body lacks %q:\n%s", want, body)
		}
	}
	e.Compare = "https://github.com/x/y/compare/" + old + "..." + now + ")[evil](https://evil.example"
	if body := (&Report{Entries: []Entry{e}}).Body("v1"); strings.Contains(body, "evil") {
		t.Errorf("a forged compare address is linked:\n%s", body)
	}
	if msg := (&Report{Entries: []Entry{e}}).CommitMessage(); !strings.Contains(msg, "actions/checkout@v4  aaaaaaaaaaaa -> bbbbbbbbbbbb") {
		t.Errorf("commit message:\n%s", msg)
	}
}
