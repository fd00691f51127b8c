package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

const (
	dOld = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	dNew = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func sample() *Report {
	return &Report{
		Files: 3,
		Entries: []Entry{
			{File: "deploy/app.yaml", Line: 9, Column: 16, Kind: "container", Ref: "nginx:1.25", Image: "nginx", Tag: "1.25", Digest: dNew, Pinned: "nginx:1.25@" + dNew, Status: Pinned, PullPolicy: "added IfNotPresent"},
			{File: "deploy/app.yaml", Line: 14, Column: 16, Kind: "container", Ref: "redis:7@" + dOld, Image: "redis", Tag: "7", OldDigest: dOld, Digest: dNew, Pinned: "redis:7@" + dNew, Status: Updated, PullPolicy: "Always -> IfNotPresent"},
			{File: "deploy/app.yaml", Line: 20, Column: 16, Kind: "container", Ref: "busybox:1.36@" + dNew, Image: "busybox", Tag: "1.36", Digest: dNew, Status: Current, PullPolicy: "kept Never"},
			{File: "compose.yaml", Line: 3, Column: 12, Kind: "compose", Ref: "${IMAGE}", Status: Skipped, Reason: "built from a variable | or template"},
			{File: "Dockerfile", Line: 1, Column: 6, Kind: "dockerfileFrom", Ref: "ghcr.io/acme/gone:v1", Image: "ghcr.io/acme/gone", Tag: "v1", Status: Failed, Error: "not found: no tag"},
		},
		Warnings: []Warning{{File: "chart/templates/x.yaml", Line: 4, Message: "not valid YAML"}},
		Changed:  []string{"deploy/app.yaml"},
	}
}

func TestBody(t *testing.T) {
	body := sample().Body("v1.2.3")
	for _, want := range []string{
		"pins **1** image reference to the digest its tag points at, and updates **1** pinned digest whose tag moved upstream",
		"### Updated: the tag moved upstream",
		"| `deploy/app.yaml:14` | `redis` | `7` | `sha256:111111111111` → `sha256:222222222222` |",
		"### Newly pinned",
		"| `deploy/app.yaml:9` | `nginx` | `1.25` | `sha256:222222222222` |",
		"Pinned containers now say `imagePullPolicy: IfNotPresent` (added on 1, changed on 1 containers).",
		"1 container kept `Never` as written.",
		"| `Dockerfile:1` | `ghcr.io/acme/gone:v1` | not found: no tag |",
		"<summary>Left alone: 1 reference</summary>",
		`| ` + "`compose.yaml:3`" + ` | ` + "`${IMAGE}`" + ` | built from a variable \| or template |`,
		"`chart/templates/x.yaml:4`: not valid YAML",
		"`# pinbot:ignore`",
		"Opened by pinbot v1.2.3.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "busybox") {
		t.Error("a current reference is listed as a change")
	}
}

func TestBodyIsCutToGitHubsLimit(t *testing.T) {
	r := &Report{}
	for i := 0; i < 3000; i++ {
		r.Entries = append(r.Entries, Entry{File: fmt.Sprintf("deploy/service-%04d/deployment.yaml", i), Line: 20, Ref: "nginx:1.25",
			Image: "registry.example.com/team/some-long-image-name", Tag: "1.25", Digest: dNew, Status: Pinned})
	}
	body := r.Body("dev")
	if len(body) > MaxBody {
		t.Fatalf("body is %d characters, over %d", len(body), MaxBody)
	}
	if !strings.Contains(body, "more rows left out") || !strings.Contains(body, "Opened by pinbot dev") {
		t.Errorf("a cut body must say so and keep its footer:\n%s", body[len(body)-400:])
	}
	if len(body) < MaxBody*8/10 {
		t.Errorf("body cut to %d characters: far more than needed", len(body))
	}
}

func TestTitleAndCommitMessage(t *testing.T) {
	r := sample()
	if got := r.Title(); got != "Pin 1 container image and update 1 digest" {
		t.Errorf("title %q", got)
	}
	msg := r.CommitMessage()
	for _, want := range []string{"Pin 1 container image and update 1 digest\n", "Updated (the tag moved upstream):\n  redis:7  sha256:111111111111 -> sha256:222222222222\n", "Pinned:\n  nginx:1.25  sha256:222222222222\n"} {
		if !strings.Contains(msg, want) {
			t.Errorf("commit message lacks %q:\n%s", want, msg)
		}
	}
	r.Entries = r.Entries[1:2]
	if got := r.Title(); got != "Update 1 container image digest: its tag moved upstream" {
		t.Errorf("title %q", got)
	}
}

func TestTextAndCheck(t *testing.T) {
	var b bytes.Buffer
	r := sample()
	if err := WriteCheck(&b, r, false); err != nil {
		t.Fatal(err)
	}
	want := "deploy/app.yaml:9: nginx:1.25 -> nginx:1.25@" + dNew + "\n" +
		"deploy/app.yaml:14: redis:7@" + dOld + " -> redis:7@" + dNew + "\n" +
		"2 references to pin or update: run pinbot pin to fix; and not checked: 1 reference could not be resolved\n"
	if b.String() != want {
		t.Errorf("check output:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	WriteProblems(&b, r)
	if want := "chart/templates/x.yaml:4: warning: not valid YAML\nDockerfile:1: ghcr.io/acme/gone:v1: not found: no tag\n"; b.String() != want {
		t.Errorf("problems:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Entries []Entry        `json:"entries"`
		Summary map[string]int `json:"summary"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Entries) != 5 || back.Summary["failed"] != 1 || back.Entries[1].OldDigest != dOld {
		t.Errorf("JSON round trip: %+v", back)
	}
}

func TestAnnotations(t *testing.T) {
	r := sample()
	r.Entries = append(r.Entries, Entry{File: "odd,name:x.yaml", Line: 2, Column: 3, Ref: "a:1", Status: Unpinned})
	var b bytes.Buffer
	if err := WriteAnnotations(&b, r, true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"::error file=deploy/app.yaml,line=9,col=16,title=Unpinned image::nginx:1.25 names no digest: pin it as nginx:1.25@" + dNew + "\n",
		"::error file=deploy/app.yaml,line=14,col=16,title=Stale digest::the tag 7 moved upstream: sha256:111111111111 is now redis:7@" + dNew + "\n",
		"::error file=Dockerfile,line=1,col=6,title=Image not resolved::ghcr.io/acme/gone:v1: not found: no tag\n",
		"::error file=odd%2Cname%3Ax.yaml,line=2,col=3,title=Unpinned image::a:1 names no digest",
		"::warning file=chart/templates/x.yaml,line=4,title=Not understood::not valid YAML\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("annotations lack %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "busybox") {
		t.Error("a current reference was annotated")
	}
	b.Reset()
	WriteAnnotations(&b, sample(), false)
	if !strings.Contains(b.String(), "::notice file=deploy/app.yaml,line=9,col=16,title=Pinned::nginx:1.25 -> nginx:1.25@") {
		t.Errorf("without --check, a pinned reference is a notice:\n%s", b.String())
	}
	if got := escapeData("50% done\r\nnext"); got != "50%25 done%0D%0Anext" {
		t.Errorf("escapeData = %q", got)
	}
}

func TestStepSummaryAndOutputs(t *testing.T) {
	r := sample()
	r.PullRequest = &PullRequest{Action: "opened", Number: 7, URL: "https://github.example/a/b/pull/7", Branch: "pinbot/digests", Base: "main"}
	var b bytes.Buffer
	WriteStepSummary(&b, r, false)
	for _, want := range []string{"### pinbot\n\n1 pinned, 1 updated, 1 current, 1 skipped, 1 failed in 3 files scanned; 1 file changed",
		"Pull request [#7](https://github.example/a/b/pull/7): opened.",
		"| `deploy/app.yaml:9` | `nginx:1.25` | `nginx:1.25@" + dNew + "` |",
		"#### Not resolved"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	WriteOutputs(&b, r)
	if want := "pinned=1\nupdated=1\nunpinned=0\nfailed=1\nfiles-changed=1\nfiles-unread=0\ncharts-not-judged=0\nsignatures-refused=0\npr-action=opened\npr-number=7\npr-url=https://github.example/a/b/pull/7\n"; b.String() != want {
		t.Errorf("outputs:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestSARIF(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSARIF(&b, sample(), "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "pinbot" {
		t.Fatalf("log %+v", log)
	}
	run := log.Runs[0]
	var got []string
	for _, res := range run.Results {
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("ruleIndex %d does not point at %s", res.RuleIndex, res.RuleID)
		}
		l := res.Locations[0].PhysicalLocation
		got = append(got, fmt.Sprintf("%s %s:%d %s", res.RuleID, l.ArtifactLocation.URI, l.Region.StartLine, res.Level))
	}
	want := []string{
		"pinbot/unpinned-image deploy/app.yaml:9 error",
		"pinbot/stale-digest deploy/app.yaml:14 warning",
		"pinbot/unresolved-image Dockerfile:1 error",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestBodyListsVanishedFirst: a digest that vanished upstream is the pull
// request's first table, above the tags that moved.
func TestBodyListsVanishedFirst(t *testing.T) {
	r := sample()
	r.Entries = append(r.Entries, Entry{File: "deploy/app.yaml", Line: 30, Kind: "container", Ref: "redis:6@" + dOld,
		Image: "redis", Tag: "6", OldDigest: dOld, Digest: dNew, Pinned: "redis:6@" + dNew, Status: Vanished, Vanished: true})
	body := r.Body("v1")
	urgent := strings.Index(body, "### Urgent: the pinned digest no longer exists upstream")
	updated := strings.Index(body, "### Updated: the tag moved upstream")
	if urgent < 0 || updated < 0 || urgent > updated {
		t.Fatalf("the vanished digest is not listed first:\n%s", body)
	}
	if !strings.Contains(body, "| `deploy/app.yaml:30` | `redis` | `6` | `sha256:111111111111` (gone) → `sha256:222222222222` |") {
		t.Errorf("no row for the vanished digest:\n%s", body)
	}
	if !strings.Contains(body, "renews **1** pinned digest that no longer exists upstream") {
		t.Errorf("the summary does not say so:\n%s", body)
	}
	var b bytes.Buffer
	WriteText(&b, r, false)
	if !strings.Contains(b.String(), "deploy/app.yaml:30: redis:6@"+dOld+" -> redis:6@"+dNew+" (URGENT: "+VanishedNote+")") {
		t.Errorf("text:\n%s", b.String())
	}
}

// TestDocsNameEverySARIFRule: the Action page's code scanning section lists
// every rule pinbot reports under.
func TestDocsNameEverySARIFRule(t *testing.T) {
	data, err := os.ReadFile("../../docs/action.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sarifRules {
		if !strings.Contains(string(data), "`"+r.ID+"`") {
			t.Errorf("docs/action.md does not name the SARIF rule %s", r.ID)
		}
	}
}

func TestAnnotationTitles(t *testing.T) {
	r := &Report{Entries: []Entry{
		{File: "a.yaml", Line: 1, Ref: "alpine@" + dOld, Status: Failed, Vanished: true, Error: VanishedNote},
		{File: "a.yaml", Line: 2, Ref: "redis:7", Status: Failed, Missing: []string{"linux/arm64"}, Error: "does not cover linux/arm64"},
		{File: "a.yaml", Line: 3, Ref: "x:1", Status: Failed, Error: "not found"},
	}}
	var b bytes.Buffer
	if err := WriteAnnotations(&b, r, true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"line=1,title=Vanished digest::", "line=2,title=Platform missing::", "line=3,title=Image not resolved::"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("annotations lack %q:\n%s", want, b.String())
		}
	}
}

// TestSort: entries by file, line and column, ties kept in their order;
// warnings, changed files and errors by file.
func TestSort(t *testing.T) {
	r := &Report{
		Entries: []Entry{
			{File: "b.yaml", Line: 2, Column: 5, Ref: "x"},
			{File: "a.yaml", Line: 9, Column: 1, Ref: "y"},
			{File: "b.yaml", Line: 2, Column: 5, Ref: "z"}, // same place: stays after x
			{File: "b.yaml", Line: 1, Column: 7, Ref: "w"},
			{File: "a.yaml", Line: 9, Column: 0, Ref: "v"},
		},
		Warnings: []Warning{{File: "b"}, {File: "a", Line: 3}, {File: "a", Line: 1}},
		Changed:  []string{"c", "a", "b"},
		Errors:   []FileError{{File: "z"}, {File: "y"}},
	}
	r.Sort()
	var got []string
	for _, e := range r.Entries {
		got = append(got, fmt.Sprintf("%s:%d:%d:%s", e.File, e.Line, e.Column, e.Ref))
	}
	want := "a.yaml:9:0:v a.yaml:9:1:y b.yaml:1:7:w b.yaml:2:5:x b.yaml:2:5:z"
	if strings.Join(got, " ") != want {
		t.Errorf("entries %v\nwant    %s", got, want)
	}
	if w := r.Warnings; w[0].File != "a" || w[0].Line != 1 || w[1].Line != 3 || w[2].File != "b" {
		t.Errorf("warnings %v", w)
	}
	if strings.Join(r.Changed, " ") != "a b c" || r.Errors[0].File != "y" {
		t.Errorf("changed %v, errors %v", r.Changed, r.Errors)
	}
	sorted := append([]Entry(nil), r.Entries...)
	r.Sort() // sorted already: left as it is
	for i := range sorted {
		if sorted[i].Ref != r.Entries[i].Ref {
			t.Fatalf("a sorted report was reordered: %v", r.Entries)
		}
	}
}

// TestProblemsSayAGivenUpRegistryOnce: the references a registry given up
// on could not resolve are listed under its error, said once; other
// failures keep their file:line: ref: error line.
func TestProblemsSayAGivenUpRegistryOnce(t *testing.T) {
	down := "r.example could not be reached (connection refused), and is given up on for the rest of the run"
	r := &Report{Entries: []Entry{
		{File: "a.yaml", Line: 3, Ref: "r.example/a:1", Status: Failed, Error: down},
		{File: "a.yaml", Line: 9, Ref: "quay.io/x:1", Status: Failed, Error: "not found"},
		{File: "b.yaml", Line: 4, Ref: "r.example/b:1", Status: Failed, Error: down},
	}}
	var b strings.Builder
	WriteProblems(&b, r)
	want := down + "; 2 references not resolved:\n  a.yaml:3: r.example/a:1\n  b.yaml:4: r.example/b:1\na.yaml:9: quay.io/x:1: not found\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestUnpinned: an offline check's unpinned references, each once: images
// as written, actions as the repository and ref asked of it.
func TestUnpinned(t *testing.T) {
	r := &Report{Entries: []Entry{
		{Ref: "nginx:1.25", Status: Unpinned},
		{Ref: "nginx:1.25", Status: Unpinned},
		{Ref: "redis:7@sha256:" + strings.Repeat("a", 64), Status: Unverified},
		{Ref: "github/codeql-action/init@v3", Kind: "actionStep", Image: "github/codeql-action/init", Tag: "v3", Status: Unpinned},
		{Ref: "o/w/.github/workflows/r.yml@main", Kind: "reusableWorkflow", Image: "o/w/.github/workflows/r.yml", Tag: "main", Status: Unpinned},
	}}
	images, actions := r.Unpinned()
	if strings.Join(images, " ") != "nginx:1.25" || strings.Join(actions, " ") != "github/codeql-action@v3 o/w@main" {
		t.Errorf("images %v, actions %v", images, actions)
	}
}

// A digest refused by the signature policy is an error in SARIF and the
// annotations; a policy not met in audit, a warning beside the pin.
func TestSignatureFindings(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	r := &Report{Files: 1, Entries: []Entry{
		{File: "a.yaml", Line: 3, Ref: "nginx:1", Image: "nginx", Tag: "1", Digest: d, Pinned: "nginx:1@" + d, Status: Pinned,
			Signature: &Signature{Status: "unsigned", Rule: "key k.pub", Problem: "not signed by key k.pub; it is unsigned"}},
		{File: "a.yaml", Line: 4, Ref: "redis:7", Image: "redis", Tag: "7", Digest: d, Status: Failed, Error: "refused by the signature policy: not signed",
			Signature: &Signature{Status: "unsigned", Problem: "not signed", Refused: true}},
	}}
	var sarif, ann strings.Builder
	if err := WriteSARIF(&sarif, r, "test"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"ruleId": "pinbot/signature-policy"`, `"ruleId": "pinbot/signature-refused"`, `"level": "warning"`} {
		if !strings.Contains(sarif.String(), want) {
			t.Errorf("SARIF lacks %s:\n%s", want, sarif.String())
		}
	}
	var outs strings.Builder
	if err := WriteOutputs(&outs, r); err != nil || !strings.Contains(outs.String(), "\nsignatures-refused=1\n") {
		t.Errorf("outputs:\n%s %v", outs.String(), err)
	}
	if err := WriteAnnotations(&ann, r, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"::warning file=a.yaml,line=3,title=Signature policy not met::nginx:1: not signed by key k.pub", "::error file=a.yaml,line=4,title=Signature refused::redis:7: refused"} {
		if !strings.Contains(ann.String(), want) {
			t.Errorf("annotations lack %q:\n%s", want, ann.String())
		}
	}
}

// Work points into the entries it lists, and WorkCount counts them without
// making the list: a gate over many thousand references copies none.
func TestWorkPointsIntoEntries(t *testing.T) {
	r := &Report{Entries: []Entry{
		{File: "a.yaml", Ref: "nginx:1.25", Status: Unpinned},
		{File: "a.yaml", Ref: "redis:7", Status: Current},
		{File: "b.yaml", Ref: "alpine:3", Status: Pinned, Pinned: "alpine:3@sha256:" + strings.Repeat("a", 64)},
	}}
	work := r.Work()
	if len(work) != 2 || r.WorkCount() != 2 {
		t.Fatalf("work %d, count %d; want 2", len(work), r.WorkCount())
	}
	if work[0] != &r.Entries[0] || work[1] != &r.Entries[2] {
		t.Error("Work copied the entries")
	}
}
