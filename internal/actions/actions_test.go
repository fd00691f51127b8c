package actions_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/pinbot/pinbot/internal/actions"
	"github.com/pinbot/pinbot/internal/actions/actionstest"
)

func client(t *testing.T, s *actionstest.Server) *actions.Resolver {
	t.Helper()
	c := github.NewClient(nil)
	u, _ := url.Parse(s.URL + "/")
	c.BaseURL = u
	return actions.New(c)
}

// TestCommit: tags (lightweight and annotated, peeled), branches and SHAs
// name their commits; each repository and ref is asked once; a known commit
// is asked conditionally, and a 304 says it still is.
func TestCommit(t *testing.T) {
	s := actionstest.New(t)
	repo := s.Repo("actions/checkout")
	c1 := repo.Commit("v4.1.0")
	repo.Tag("v4.1.0", c1)
	c2 := repo.Commit("v4.2.2")
	obj := repo.AnnotatedTag("v4.2.2", c2)
	repo.Tag("v4", c2)
	repo.Branch("releases/v4", c1)
	ctx := context.Background()
	r := client(t, s)
	for ref, want := range map[string]string{"v4.1.0": c1, "v4.2.2": c2, "v4": c2, "releases/v4": c1, "main": c2, c1: c1} {
		got, err := r.Commit(ctx, "actions/checkout", ref, "")
		if err != nil || got != want {
			t.Errorf("%s: %s, %v; want %s", ref, got, err, want)
		}
	}
	if obj == c2 {
		t.Fatal("the annotated tag's object is its commit: the test proves nothing")
	}
	n := s.Requests
	if _, err := r.Commit(ctx, "actions/checkout", "v4", ""); err != nil || s.Requests != n {
		t.Errorf("asked again: %d requests, %v", s.Requests-n, err)
	}

	// a second run, knowing the commits: conditional requests, 304s
	r2 := client(t, s)
	if got, err := r2.Commit(ctx, "actions/checkout", "v4", c2); err != nil || got != c2 {
		t.Errorf("conditional: %s, %v", got, err)
	}
	repo.Tag("v4", c1) // v4 moves
	if got, err := r2.Commit(ctx, "actions/checkout", "v4.1.0", c2); err != nil || got != c1 {
		t.Errorf("a known commit that is no longer it: %s, %v", got, err)
	}
	if st := r2.Stats(); st.Requests != 2 || st.Conditional != 2 || st.NotModified != 1 || s.NotModified != 1 {
		t.Errorf("stats %+v; server saw %d 304s", st, s.NotModified)
	}

	s.JSONOnly = true // a server that answers the commit object, not its SHA
	if got, err := client(t, s).Commit(ctx, "actions/checkout", "v4.1.0", ""); err != nil || got != c1 {
		t.Errorf("from the commit object: %s, %v", got, err)
	}
	s.JSONOnly = false
	if _, err := r.Commit(ctx, "actions/checkout", "v9", ""); !errors.Is(err, actions.ErrNoRef) {
		t.Errorf("a ref that is not there: %v", err)
	}
	n = s.Requests
	for _, bad := range [][2]string{{"actions/checkout", "../../../../user"}, {"../x", "v1"}, {"actions/checkout", "v1?x=1"}, {"a/b/c", "v1"}} {
		if _, err := r.Commit(ctx, bad[0], bad[1], ""); err == nil {
			t.Errorf("%s@%s was asked", bad[0], bad[1])
		}
	}
	if s.Requests != n {
		t.Errorf("%d requests for refs that step out of the repository's path", s.Requests-n)
	}
	if _, err := r.Commit(ctx, "nobody/nothing", "v1", ""); !errors.Is(err, actions.ErrNotFound) {
		t.Errorf("a repository that is not there: %v", err)
	}
	private := s.Repo("corp/private")
	private.Private = true
	if _, err := r.Commit(ctx, "corp/private", "main", ""); !errors.Is(err, actions.ErrNotFound) {
		t.Errorf("a private repository without a token: %v", err)
	}
}

// TestReaches: a commit a branch or tag reaches belongs to its repository;
// a fork's commit that GitHub serves under the parent's name is an
// impostor.
func TestReaches(t *testing.T) {
	s := actionstest.New(t)
	repo := s.Repo("tj/changed-files")
	old := repo.Commit("v45.0.6")
	repo.Tag("v45.0.6", old)
	head := repo.Commit("v45.0.7")
	repo.Tag("v45", head)
	repo.AnnotatedTag("v45.0.7", head)
	evil := repo.ForkCommit("print the secrets")
	ctx := context.Background()
	r := client(t, s)
	if got, err := r.Commit(ctx, "tj/changed-files", evil, ""); err != nil || got != evil {
		t.Fatalf("the fork's commit is served under the parent's name: %s, %v", got, err)
	}
	if reach, err := r.Reaches(ctx, "tj/changed-files", old); err != nil || reach.By == "" || !reach.Proved {
		t.Errorf("an old release: %+v, %v", reach, err)
	}
	if reach, err := r.Reaches(ctx, "tj/changed-files", evil); err != nil || reach.By != "" || !reach.Proved {
		t.Errorf("the fork's commit: %+v, %v", reach, err)
	}
	if tag := r.ExactTag(ctx, "tj/changed-files", head); tag != "v45.0.7" {
		t.Errorf("the most exact tag: %q", tag)
	}
}

// TestRateLimit: once GitHub says the rate limit is reached, no more is
// asked, and the error says until when.
func TestRateLimit(t *testing.T) {
	s := actionstest.New(t)
	s.Repo("a/b")
	s.Remaining = 0
	r := client(t, s)
	_, err := r.Commit(context.Background(), "a/b", "main", "")
	var rl *actions.ErrRateLimited
	if !errors.As(err, &rl) || rl.Reset.Year() != 2030 {
		t.Fatalf("%v", err)
	}
	n := s.Requests
	if _, err := r.Commit(context.Background(), "a/b", "v1", ""); !errors.As(err, &rl) || s.Requests != n {
		t.Errorf("asked after the limit: %v", err)
	}
	s.LimitStatus = 429 // as some servers answer
	if _, err := client(t, s).Commit(context.Background(), "a/b", "main", ""); !errors.As(err, &rl) || rl.Reset.Year() != 2030 {
		t.Errorf("429: %v", err)
	}
}
