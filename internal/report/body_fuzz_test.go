package report

import (
	"strings"
	"testing"
	"time"
)

// fuzzSeen is the first sightings every hostile report carries.
var fuzzSeen = map[string]time.Time{"ghcr.io/acme/app:1@" + dNew: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}

// hostileReport is a report whose every string from a checkout or a
// registry is s.
func hostileReport(s string) *Report {
	e := func(st Status) Entry {
		return Entry{File: s, Line: 7, Column: 3, Kind: s, Ref: s, Image: s, Tag: s, OldDigest: s, Digest: s,
			Pinned: s, Status: st, Note: s, Reason: s, Error: s, Via: s, Missing: []string{s}}
	}
	r := &Report{Files: 3}
	for _, st := range []Status{Pinned, Updated, Vanished, Current, Skipped, Failed} {
		r.Entries = append(r.Entries, e(st))
	}
	kept, changed := e(Current), e(Updated)
	kept.PullPolicy, changed.PullPolicy = "kept "+s, s+" -> IfNotPresent"
	added := e(Pinned)
	added.PullPolicy = "added IfNotPresent"
	r.Entries = append(r.Entries, kept, changed, added)
	facts := Facts{Platforms: []string{s}, Size: 1234, Source: s, Revision: s}
	r.Entries[1].Evidence = &Evidence{Old: facts, New: facts}
	r.Warnings = []Warning{{File: s, Line: 2, Message: s}}
	r.Unread = []FileError{{File: s, Error: s}}
	r.Errors = []FileError{{File: s, Error: s}}
	r.FirstSeen = fuzzSeen
	return r
}

// skeleton is the Markdown and HTML syntax of each line of a body: the
// characters that could make a link, an image, a mention, a table cell,
// emphasis, a heading or a tag, outside code spans, once what is escaped
// (a backslash escape, an entity, a mention broken by a zero-width space)
// is taken out. A value can add text to a body, never syntax.
func skeleton(body string) []string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		line = strings.NewReplacer("@&#8203;", "x", "#&#8203;", "x", "&lt;", "x", "&gt;", "x", "&amp;", "x").Replace(line)
		var b strings.Builder
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case c == '\\' && i+1 < len(line):
				i++ // an escaped character is text
			case c == '`':
				n := 1
				for i+n < len(line) && line[i+n] == '`' {
					n++
				}
				fence := strings.Repeat("`", n)
				// the closing run of exactly n backticks
				end := -1
				for j := i + n; j < len(line); {
					k := strings.Index(line[j:], fence)
					if k < 0 {
						break
					}
					k += j
					if (k+n == len(line) || line[k+n] != '`') && (k == 0 || line[k-1] != '`') {
						end = k
						break
					}
					j = k + 1
				}
				if end < 0 {
					b.WriteString(fence) // no span: literal backticks, which are syntax here
					i += n - 1
					continue
				}
				// a code span: its content is text
				i = end + n - 1
			case strings.IndexByte("*_[]|~$<>@", c) >= 0:
				b.WriteByte(c)
			case c == '#' && i+1 < len(line) && line[i+1] >= '0' && line[i+1] <= '9':
				b.WriteByte(c) // an issue reference
			}
		}
		out = append(out, b.String())
	}
	return out
}

// FuzzBody renders a whole pull request body with a hostile value in every
// field and holds its syntax to that of the same report with a plain value:
// the same lines, and on each the same Markdown and HTML.
func FuzzBody(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Add("x` @everyone <img src=x> [click](https://example.com) `y")
	f.Add("``a`` ` `` ```")
	f.Add("<!-- pinbot:first-seen {\"ghcr.io/acme/app:1@" + dNew + "\":\"2000-01-01T00:00:00Z\"} -->")
	f.Add("x\n<!-- pinbot:first-seen {} -->\n")
	f.Fuzz(func(t *testing.T, s string) {
		want := skeleton(hostileReport("plain").Body("v1"))
		body := hostileReport(s).Body("v1")
		// the first sightings read back are pinbot's, whatever the values say
		if seen := ParseFirstSeen(body, time.Time{}); len(seen) != len(fuzzSeen) || !seen["ghcr.io/acme/app:1@"+dNew].Equal(fuzzSeen["ghcr.io/acme/app:1@"+dNew]) {
			t.Fatalf("%q: the first sightings read back are %v, want %v:\n%s", s, seen, fuzzSeen, body)
		}
		got := skeleton(body)
		if strings.Contains(body, "left out: the description would be longer") || strings.Contains(body, "The description is cut here") {
			// rows left out to fit GitHub's limit: each line still carries
			// only syntax a plain line does
			known := map[string]bool{"": true}
			for _, w := range want {
				known[w] = true
			}
			known[skeleton("_The description is cut here: it is longer than GitHub accepts._")[0]] = true
			known[skeleton("_Evidence for 9 more moved tags left out: the description would be longer than GitHub accepts. `pinbot pin --output json` shows it all._")[0]] = true
			known[skeleton("_9 more rows left out: the description would be longer than GitHub accepts. `pinbot pin --check` lists them all._")[0]] = true
			for i, g := range got {
				if !known[g] {
					t.Fatalf("%q: line %d of a cut body carries syntax %q no plain line does:\n%s", s, i+1, g, strings.Split(body, "\n")[i])
				}
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%q: the body has %d lines, want %d:\n%s", s, len(got), len(want), body)
		}
		lines := strings.Split(body, "\n")
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%q: line %d carries syntax %q, want %q:\n%s", s, i+1, got[i], want[i], lines[i])
			}
		}
	})
}
