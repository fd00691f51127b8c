package forge

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pinbot/pinbot/internal/forge/githubfake"
)

const (
	repoName = "acme/shop"
	token    = "ghp_test_token"
)

var (
	deployOld  = []byte("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: nginx:1.25\n")
	deployNew  = []byte("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: nginx:1.25@sha256:1111\n")
	deployNew2 = []byte("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: nginx:1.25@sha256:2222\n")
	scriptOld  = []byte("FROM alpine:3.20\n")
	scriptNew  = []byte("FROM alpine:3.20@sha256:3333\n")
)

func setup(t *testing.T) (*githubfake.Server, *GitHub) {
	t.Helper()
	fake := githubfake.New()
	t.Cleanup(fake.Close)
	fake.AddToken(token, githubfake.Token{Contents: githubfake.Write, PullRequests: githubfake.Write})
	fake.CreateRepo(repoName, "main", map[string][]byte{
		"deploy/pod.yaml": deployOld,
		"tools/build*":    scriptOld, // executable
		"README.md":       []byte("# shop\n"),
	})
	return fake, client(t, fake, token)
}

func client(t *testing.T, fake *githubfake.Server, tok string) *GitHub {
	t.Helper()
	g, err := NewGitHub(GitHubOptions{HTTPClient: TokenClient(context.Background(), tok, fake.URL), APIURL: fake.URL, MaxWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	g.sleep = func(context.Context, time.Duration) error { return nil }
	return g
}

func request(files ...File) Request {
	return Request{
		Repo: Repo{"acme", "shop"}, Branch: "pinbot/digests", Title: "Pin images", Body: "the body",
		CommitMessage: "Pin container images to their digests", Files: files,
		Labels: []string{"dependencies", "pinbot"}, Reviewers: []string{"alice", "acme/platform"},
		CurrentComment: "All pins are current.",
	}
}

func TestPublishOpensUpdatesAndCloses(t *testing.T) {
	fake, g := setup(t)
	ctx := context.Background()
	mainHead, _, _ := fake.Branch(repoName, "main")

	// 1. first run: a branch with one commit on main, and a pull request
	req := request(File{Path: "deploy/pod.yaml", Old: deployOld, New: deployNew, Mode: 0o644},
		File{Path: "tools/build", Old: scriptOld, New: scriptNew, Mode: 0o644})
	req.Draft = true
	res, err := g.Publish(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != Opened || res.Number != 1 || res.Base != "main" || !strings.HasSuffix(res.URL, "/pull/1") {
		t.Fatalf("result %+v", res)
	}
	sha, msg, parents := fake.Branch(repoName, "pinbot/digests")
	if sha != res.Commit || len(parents) != 1 || parents[0] != mainHead || !strings.Contains(msg, "\n\n"+Trailer+"\n") {
		t.Errorf("branch head %s %q %v", sha, msg, parents)
	}
	if data, _, _ := fake.File(repoName, "pinbot/digests", "deploy/pod.yaml"); string(data) != string(deployNew) {
		t.Errorf("deploy/pod.yaml on the branch: %q", data)
	}
	if _, mode, _ := fake.File(repoName, "pinbot/digests", "tools/build"); mode != "100755" {
		t.Errorf("tools/build mode %s: the base branch's executable mode must be kept", mode)
	}
	if data, _, _ := fake.File(repoName, "pinbot/digests", "README.md"); string(data) != "# shop\n" {
		t.Errorf("an untouched file changed: %q", data)
	}
	prs := fake.Pulls(repoName)
	if len(prs) != 1 || prs[0].Title != "Pin images" || prs[0].Body != "the body" || !prs[0].Draft ||
		strings.Join(prs[0].Labels, ",") != "dependencies,pinbot" ||
		strings.Join(prs[0].Reviewers, ",") != "alice" || strings.Join(prs[0].Teams, ",") != "platform" {
		t.Errorf("pull request %+v", prs)
	}
	if color, desc, ok := fake.Label(repoName, "pinbot"); !ok || color != LabelColor || desc == "" {
		t.Errorf("label not created by pinbot: %q %q %v", color, desc, ok)
	}

	// 2. the same change again: nothing is pushed
	res, err = g.Publish(ctx, req)
	if err != nil || res.Action != Unchanged || res.Commit != sha {
		t.Fatalf("second run: %+v %v", res, err)
	}
	if now, _, _ := fake.Branch(repoName, "pinbot/digests"); now != sha {
		t.Error("an unchanged run moved the branch")
	}

	// 3. a tag moved: the same pull request gets a new commit and text
	req.Files[0].New = deployNew2
	req.Body = "new body"
	res, err = g.Publish(ctx, req)
	if err != nil || res.Action != Updated || res.Number != 1 {
		t.Fatalf("third run: %+v %v", res, err)
	}
	newSHA, _, parents := fake.Branch(repoName, "pinbot/digests")
	if newSHA == sha || len(parents) != 1 || parents[0] != mainHead {
		t.Errorf("branch after update: %s parents %v", newSHA, parents)
	}
	if data, _, _ := fake.File(repoName, "pinbot/digests", "deploy/pod.yaml"); string(data) != string(deployNew2) {
		t.Errorf("deploy/pod.yaml after update: %q", data)
	}
	prs = fake.Pulls(repoName)
	if len(prs) != 1 || prs[0].Body != "new body" || len(prs[0].Reviewers) != 1 {
		t.Errorf("pull requests after update: %+v", prs)
	}

	// 4. nothing to change, but the run could not see everything (or holds
	// moves back): left open, its body brought up to date
	req.Files, req.KeepOpen, req.Body = nil, true, "held moves"
	res, err = g.Publish(ctx, req)
	if err != nil || res.Action != Unchanged || fake.Pulls(repoName)[0].State != "open" || fake.Pulls(repoName)[0].Body != "held moves" {
		t.Fatalf("a run that could not resolve everything closed the pull request, or left its body: %+v %v %+v", res, err, fake.Pulls(repoName)[0])
	}

	// 5. nothing left to change: comment, close, delete the branch
	req.KeepOpen = false
	res, err = g.Publish(ctx, req)
	if err != nil || res.Action != Closed || res.Number != 1 {
		t.Fatalf("fourth run: %+v %v", res, err)
	}
	prs = fake.Pulls(repoName)
	if prs[0].State != "closed" || len(prs[0].Comments) != 1 || prs[0].Comments[0] != "All pins are current." {
		t.Errorf("pull request after closing: %+v", prs[0])
	}
	if sha, _, _ := fake.Branch(repoName, "pinbot/digests"); sha != "" {
		t.Error("the branch was not deleted")
	}

	// 6. and again: nothing at all
	res, err = g.Publish(ctx, req)
	if err != nil || res.Action != Nothing {
		t.Fatalf("fifth run: %+v %v", res, err)
	}
}

func TestPublishLeavesForeignCommitsAlone(t *testing.T) {
	fake, g := setup(t)
	ctx := context.Background()
	req := request(File{Path: "deploy/pod.yaml", Old: deployOld, New: deployNew})
	if _, err := g.Publish(ctx, req); err != nil {
		t.Fatal(err)
	}
	foreign, err := fake.Push(repoName, "pinbot/digests", "alice", "Tweak the pod by hand", map[string][]byte{"deploy/pod.yaml": []byte("by hand\n")})
	if err != nil {
		t.Fatal(err)
	}
	req.Files[0].New = deployNew2
	for run := 0; run < 2; run++ {
		_, err = g.Publish(ctx, req)
		if !errors.Is(err, ErrForeignCommits) || !strings.Contains(err.Error(), "Tweak the pod by hand") {
			t.Fatalf("run %d: err = %v, want ErrForeignCommits naming the commit", run, err)
		}
	}
	if sha, _, _ := fake.Branch(repoName, "pinbot/digests"); sha != foreign {
		t.Error("the branch with someone's commit was overwritten")
	}
	prs := fake.Pulls(repoName)
	if len(prs[0].Comments) != 1 || !strings.Contains(prs[0].Comments[0], "did not make") {
		t.Errorf("want exactly one explaining comment, got %q", prs[0].Comments)
	}
	// nothing to change does not close it either
	req.Files = nil
	if _, err := g.Publish(ctx, req); !errors.Is(err, ErrForeignCommits) {
		t.Fatalf("closing a branch with foreign commits: %v", err)
	}
	if fake.Pulls(repoName)[0].State != "open" {
		t.Error("a pull request with someone's commit was closed")
	}
}

func TestPublishFollowsTheBase(t *testing.T) {
	fake, g := setup(t)
	ctx := context.Background()
	req := request(File{Path: "deploy/pod.yaml", Old: deployOld, New: deployNew})
	if _, err := g.Publish(ctx, req); err != nil {
		t.Fatal(err)
	}
	// main moves on: the next commit is on top of the new head, other files kept
	newMain, err := fake.Push(repoName, "main", "bob", "docs", map[string][]byte{"README.md": []byte("# shop v2\n")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := g.Publish(ctx, req)
	if err != nil || res.Action != Updated {
		t.Fatalf("%+v %v", res, err)
	}
	_, _, parents := fake.Branch(repoName, "pinbot/digests")
	if len(parents) != 1 || parents[0] != newMain {
		t.Errorf("parent %v, want the new main %s", parents, newMain)
	}
	if data, _, _ := fake.File(repoName, "pinbot/digests", "README.md"); string(data) != "# shop v2\n" {
		t.Errorf("README.md on the branch: %q", data)
	}
}

func TestPublishRefusesAStaleCheckout(t *testing.T) {
	fake, g := setup(t)
	req := request(File{Path: "deploy/pod.yaml", Old: []byte("something else\n"), New: deployNew})
	_, err := g.Publish(context.Background(), req)
	if !errors.Is(err, ErrStaleCheckout) || !strings.Contains(err.Error(), "deploy/pod.yaml") {
		t.Fatalf("err = %v, want ErrStaleCheckout naming the file", err)
	}
	if sha, _, _ := fake.Branch(repoName, "pinbot/digests"); sha != "" {
		t.Error("a branch was created from a stale checkout")
	}
}

func TestPublishDryRunWritesNothing(t *testing.T) {
	fake, g := setup(t)
	req := request(File{Path: "deploy/pod.yaml", Old: deployOld, New: deployNew})
	req.DryRun = true
	res, err := g.Publish(context.Background(), req)
	if err != nil || res.Action != Opened || !res.DryRun {
		t.Fatalf("%+v %v", res, err)
	}
	for _, c := range fake.Calls() {
		if !strings.HasPrefix(c, "GET ") {
			t.Errorf("dry run made a write call: %s", c)
		}
	}
}

func TestPublishTruncatedTree(t *testing.T) {
	fake, g := setup(t)
	fake.TruncateTrees(true)
	req := request(File{Path: "deploy/pod.yaml", Old: deployOld, New: deployNew},
		File{Path: "tools/build", Old: scriptOld, New: scriptNew})
	res, err := g.Publish(context.Background(), req)
	if err != nil || res.Action != Opened {
		t.Fatalf("%+v %v", res, err)
	}
	if _, mode, _ := fake.File(repoName, "pinbot/digests", "tools/build"); mode != "100755" {
		t.Errorf("mode %s found by walking the tree, want 100755", mode)
	}
}

func TestPublishWaitsOutRateLimits(t *testing.T) {
	fake, g := setup(t)
	var waits []time.Duration
	g.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); time.Sleep(d); return nil }
	h := http.Header{}
	h.Set("Retry-After", "1")
	fake.Fail("POST", "/pulls", 1, http.StatusForbidden, h, githubfake.SecondaryRateLimit)
	h2 := http.Header{}
	h2.Set("Retry-After", "0")
	fake.Fail("POST", "/git/blobs", 1, http.StatusTooManyRequests, h2, `{"message":"slow down"}`)
	res, err := g.Publish(context.Background(), request(File{Path: "deploy/pod.yaml", Old: deployOld, New: deployNew}))
	if err != nil || res.Action != Opened {
		t.Fatalf("%+v %v", res, err)
	}
	if len(waits) != 2 || waits[1] < time.Second {
		t.Errorf("waits %v, want a pause for the 429 and one of at least Retry-After for the secondary limit", waits)
	}
	if n := len(fake.Pulls(repoName)); n != 1 {
		t.Errorf("%d pull requests", n)
	}
}

func TestPublishUpdatesWhenCreateSaysOneExists(t *testing.T) {
	fake, g := setup(t)
	ctx := context.Background()
	req := request(File{Path: "deploy/pod.yaml", Old: deployOld, New: deployNew})
	if _, err := g.Publish(ctx, req); err != nil {
		t.Fatal(err)
	}
	// The listing misses the open pull request (it was opened meanwhile):
	// the 422 on create must lead to updating it, not to a second one.
	fake.Fail("GET", "/pulls", 1, http.StatusOK, nil, "[]")
	req.Files[0].New = deployNew2
	req.Body = "after the race"
	res, err := g.Publish(ctx, req)
	if err != nil || res.Number != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	prs := fake.Pulls(repoName)
	if len(prs) != 1 || prs[0].Body != "after the race" {
		t.Errorf("pull requests %+v", prs)
	}
}

func TestPublishErrorsSayWhatIsMissing(t *testing.T) {
	fake, _ := setup(t)
	fake.AddToken("read-only", githubfake.Token{Contents: githubfake.Read, PullRequests: githubfake.Read})
	fake.AddToken("no-pulls", githubfake.Token{Contents: githubfake.Write, PullRequests: githubfake.Read})
	fake.AddToken("other-repo", githubfake.Token{Contents: githubfake.Write, PullRequests: githubfake.Write, Repos: []string{"acme/other"}})
	files := []File{{Path: "deploy/pod.yaml", Old: deployOld, New: deployNew}}
	for _, tc := range []struct {
		token, base, want string
	}{
		{"ghp_unknown_x", "", "401"},
		{"ghp_unknown_x", "", "the token is missing, expired or revoked"},
		{"read-only", "", "403"},
		{"read-only", "", "contents: write"},
		{"no-pulls", "", "pull-requests: write"},
		{"other-repo", "", "repository acme/shop not found, or the token cannot see it"},
		{token, "release", `base branch "release" not found in acme/shop`},
	} {
		req := request(files...)
		req.Base = tc.base
		_, err := client(t, fake, tc.token).Publish(context.Background(), req)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("token %s: err = %v, want it to say %q", tc.token, err, tc.want)
		}
		if strings.Contains(err.Error(), tc.token) && tc.token != token {
			t.Errorf("the token appears in the error: %v", err)
		}
	}
}

func TestAppInstallationToken(t *testing.T) {
	fake, _ := setup(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	fake.AddApp(42, &key.PublicKey, githubfake.Token{Contents: githubfake.Write, PullRequests: githubfake.Write}, repoName)
	ctx := context.Background()

	tok, err := App{ID: 42, PrivateKey: pemKey}.InstallationToken(ctx, fake.URL, Repo{"acme", "shop"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := client(t, fake, tok).Publish(ctx, request(File{Path: "deploy/pod.yaml", Old: deployOld, New: deployNew}))
	if err != nil || res.Action != Opened {
		t.Fatalf("publishing with the installation token: %+v %v", res, err)
	}
	if _, err := (App{ID: 42, PrivateKey: pemKey}).InstallationToken(ctx, fake.URL, Repo{"acme", "elsewhere"}); err == nil || !strings.Contains(err.Error(), "not installed on acme/elsewhere") {
		t.Errorf("uninstalled repository: %v", err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)})
	if _, err := (App{ID: 42, PrivateKey: otherPEM}).InstallationToken(ctx, fake.URL, Repo{"acme", "shop"}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a JWT signed with the wrong key: %v", err)
	}
	if _, err := (App{ID: 42, PrivateKey: []byte("not a key")}).InstallationToken(ctx, fake.URL, Repo{"acme", "shop"}); err == nil || !strings.Contains(err.Error(), "private key") {
		t.Errorf("a bad key file: %v", err)
	}
}

func TestRepoParsing(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/acme/shop.git":                       "acme/shop github.com",
		"https://github.com/acme/shop":                           "acme/shop github.com",
		"git@github.com:acme/shop.git":                           "acme/shop github.com",
		"ssh://git@ghe.example.com/acme/shop":                    "acme/shop ghe.example.com",
		"https://x-access-token:s3cr3t@github.com/acme/shop.git": "acme/shop github.com",
	} {
		r, host, err := RepoFromRemote(in)
		if err != nil || r.String()+" "+host != want {
			t.Errorf("RepoFromRemote(%q) = %v %s %v, want %s", in, r, host, err, want)
		}
	}
	for _, bad := range []string{"shop", "/acme/shop", "acme/", "a/b/c"} {
		if r, err := ParseRepo(bad); err == nil {
			t.Errorf("ParseRepo(%q) = %v", bad, r)
		}
	}
	if _, err := NewGitHub(GitHubOptions{APIURL: "http://ghe.example.com/api/v3"}); err == nil {
		t.Error("a plain HTTP API URL was accepted")
	}
}

func TestBlobSHAIsGits(t *testing.T) {
	// git hash-object of "hello\n"
	if got := BlobSHA([]byte("hello\n")); got != "ce013625030ba8dba906f756967f9e9ca394464a" {
		t.Errorf("BlobSHA = %s", got)
	}
}

// TestAppRepositories: every repository of every installation, over pages
// (230 in one account, 3 in another), and none the App is not installed on.
func TestAppRepositories(t *testing.T) {
	fake := githubfake.New()
	defer fake.Close()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	var installed []string
	for i := 0; i < 230; i++ {
		installed = append(installed, fmt.Sprintf("big/svc-%03d", i))
	}
	installed = append(installed, "small/a", "small/b", "small/c")
	for _, r := range installed {
		fake.CreateRepo(r, "main", nil)
	}
	fake.CreateRepo("small/not-selected", "main", nil)
	fake.SetRepoFlags("small/b", true, false)
	fake.AddApp(7, &key.PublicKey, githubfake.Token{Contents: githubfake.Write, PullRequests: githubfake.Write}, installed...)

	repos, err := App{ID: 7, PrivateKey: pemKey}.Repositories(context.Background(), fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Repository{}
	for _, r := range repos {
		got[r.FullName] = r
	}
	if len(repos) != len(installed) || len(got) != len(installed) {
		t.Fatalf("%d repositories (%d distinct), want %d", len(repos), len(got), len(installed))
	}
	if _, ok := got["small/not-selected"]; ok {
		t.Error("a repository the App is not installed on was listed")
	}
	if r := got["small/b"]; !r.Archived || r.Owner != "small" || r.Name != "b" || r.DefaultBranch != "main" || r.Installation == got["big/svc-000"].Installation {
		t.Errorf("small/b: %+v", r)
	}
	pages := 0
	for _, c := range fake.Calls() {
		if c == "GET /installation/repositories" {
			pages++
		}
	}
	if pages != 4 { // big: 100 + 100 + 30, small: 3
		t.Errorf("%d pages of repositories fetched, want 4", pages)
	}
}
