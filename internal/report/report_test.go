package report

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	if err := WriteCheck(&b, r); err != nil {
		t.Fatal(err)
	}
	want := "deploy/app.yaml:9: nginx:1.25 -> nginx:1.25@" + dNew + "\n" +
		"deploy/app.yaml:14: redis:7@" + dOld + " -> redis:7@" + dNew + "\n" +
		"2 references to pin or update: run pinbot pin to fix\n"
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
