// Package actions asks GitHub what the refs of GitHub Actions' repositories
// name: the commit a tag or a branch names today (a tag object peeled to its
// commit), asked once per repository and ref, and again conditionally where
// the commit is known (a 304 costs nothing against GitHub's rate limit);
// whether a commit belongs to its repository (a branch or a tag reaches it),
// or is a commit of a fork served under its parent's name; and the most
// exact tag at a commit.
package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
)

// ErrRateLimited is GitHub refusing more requests until Reset.
type ErrRateLimited struct{ Reset time.Time }

func (e *ErrRateLimited) Error() string {
	return fmt.Sprintf("GitHub's API rate limit is reached until %s: give a GITHUB_TOKEN (5,000 requests an hour), or run again then", e.Reset.UTC().Format(time.RFC3339))
}

// ErrNotFound is a repository GitHub does not show: it does not exist, or
// it is private and the token cannot read it.
var ErrNotFound = errors.New("not found: no such repository (or ref), or a private repository and no token that can read it (GITHUB_TOKEN)")

// ErrNoRef is a ref that names no branch, tag or commit of the repository.
var ErrNoRef = errors.New("no branch, tag or commit of the repository has this name")

// Stats counts the requests made.
type Stats struct {
	Requests    int // every request
	Conditional int // asked with the commit known (If-None-Match)
	NotModified int // of those, answered 304
}

// Resolver asks GitHub's REST API. Its methods may be called from several
// goroutines at once.
type Resolver struct {
	c *github.Client
	// MaxCompares bounds the branches and tags a commit is compared with
	// to show that one reaches it.
	MaxCompares int

	mu      sync.Mutex
	commits map[string]*once[string] // "owner/repo@ref"
	refs    map[string]*once[*repoRefs]
	limited *ErrRateLimited
	stats   Stats
}

// once is a value made once, by the first caller.
type once[T any] struct {
	done chan struct{}
	v    T
	err  error
}

// New asks the API at c (go-github's client, with its base URL and
// credentials).
func New(c *github.Client) *Resolver {
	return &Resolver{c: c, MaxCompares: 30, commits: map[string]*once[string]{}, refs: map[string]*once[*repoRefs]{}}
}

// Stats is what was asked so far.
func (r *Resolver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// do runs the first call for key and shares its answer.
func do[T any](r *Resolver, m map[string]*once[T], key string, f func() (T, error)) (T, error) {
	r.mu.Lock()
	o := m[key]
	if o == nil {
		o = &once[T]{done: make(chan struct{})}
		m[key] = o
		r.mu.Unlock()
		o.v, o.err = f()
		close(o.done)
	} else {
		r.mu.Unlock()
		<-o.done
	}
	return o.v, o.err
}

// request counts a request and says whether one may be made: none once the
// rate limit is reached.
func (r *Resolver) request(conditional bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.limited != nil {
		return r.limited
	}
	r.stats.Requests++
	if conditional {
		r.stats.Conditional++
	}
	return nil
}

// failed turns an API error into pinbot's, and remembers a rate limit.
func (r *Resolver) failed(err error, resp *github.Response) error {
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	var limited *ErrRateLimited
	switch {
	case errors.As(err, &rl):
		limited = &ErrRateLimited{Reset: rl.Rate.Reset.Time}
	case errors.As(err, &ab):
		reset := time.Now().Add(time.Minute)
		if ab.RetryAfter != nil {
			reset = time.Now().Add(*ab.RetryAfter)
		}
		limited = &ErrRateLimited{Reset: reset}
	case resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusForbidden && resp.Header.Get("X-RateLimit-Remaining") == "0"):
		limited = &ErrRateLimited{Reset: resetOf(resp.Response)}
	case resp != nil && resp.StatusCode == http.StatusNotFound:
		return ErrNotFound
	case resp != nil && resp.StatusCode == http.StatusUnprocessableEntity:
		return ErrNoRef
	default:
		return err
	}
	r.mu.Lock()
	if r.limited == nil {
		r.limited = limited
	}
	r.mu.Unlock()
	return limited
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// resetOf is when a refusing server says to ask again: X-RateLimit-Reset
// (Unix seconds), else Retry-After (seconds), else in a minute.
func resetOf(resp *http.Response) time.Time {
	if n, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0)
	}
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n >= 0 {
		return time.Now().Add(time.Duration(n) * time.Second)
	}
	return time.Now().Add(time.Minute)
}

// safePart tells an owner or a repository name that stays one segment of
// the API's path.
func safePart(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/?#%\\")
}

// safeRef tells a ref that stays within the repository's path in the
// API's URL: never "../../user".
func safeRef(ref string) bool {
	for _, c := range strings.Split(ref, "/") {
		if c == "" || c == "." || c == ".." {
			return false
		}
	}
	return !strings.ContainsAny(ref, "?#%\\ ")
}

// Commit is the commit ref names in repo (owner/name) today: a tag (an
// annotated one peeled to its commit), a branch, or a commit SHA. known, when
// not "", is the commit the caller holds for it: the request is then
// conditional, and a 304 says it still is. Each repository and ref is asked
// once.
func (r *Resolver) Commit(ctx context.Context, repo, ref, known string) (string, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || !safePart(owner) || !safePart(name) || strings.Contains(name, "/") {
		return "", fmt.Errorf("%q: want owner/repo", repo)
	}
	if !safeRef(ref) {
		return "", fmt.Errorf("%q: not a ref GitHub is asked about", ref)
	}
	return do(r, r.commits, repo+"@"+ref, func() (string, error) {
		if err := r.request(known != ""); err != nil {
			return "", err
		}
		sha, resp, err := r.c.Repositories.GetCommitSHA1(ctx, owner, name, ref, known)
		if err != nil && known != "" && resp != nil && resp.StatusCode == http.StatusNotModified {
			r.mu.Lock()
			r.stats.NotModified++
			r.mu.Unlock()
			return known, nil
		}
		if err != nil {
			return "", r.failed(err, resp)
		}
		sha = strings.TrimSpace(sha)
		if strings.HasPrefix(sha, "{") {
			// a server that does not speak the SHA media type answers
			// with the commit object
			var c struct {
				SHA string `json:"sha"`
			}
			if json.Unmarshal([]byte(sha), &c) == nil {
				sha = c.SHA
			}
		}
		if !shaRE.MatchString(sha) {
			return "", fmt.Errorf("GitHub answered %.60q for %s@%s, which is no commit SHA", sha, repo, ref)
		}
		return sha, nil
	})
}

// namedRef is a branch or a tag and the commit it names.
type namedRef struct {
	name, sha string
	tag       bool
}

// repoRefs are a repository's default branch, branches and tags.
type repoRefs struct {
	def  string
	refs []namedRef
	more bool // there were more than were read
}

const (
	perPage  = 100
	maxPages = 10
)

// listRefs reads a repository's default branch, its branches and its tags
// (up to maxPages pages of each), once.
func (r *Resolver) listRefs(ctx context.Context, repo string) (*repoRefs, error) {
	owner, name, _ := strings.Cut(repo, "/")
	return do(r, r.refs, repo, func() (*repoRefs, error) {
		out := &repoRefs{}
		if err := r.request(false); err != nil {
			return nil, err
		}
		rp, resp, err := r.c.Repositories.Get(ctx, owner, name)
		if err != nil {
			return nil, r.failed(err, resp)
		}
		out.def = rp.GetDefaultBranch()
		for page := 1; page <= maxPages; page++ {
			if err := r.request(false); err != nil {
				return nil, err
			}
			bs, resp, err := r.c.Repositories.ListBranches(ctx, owner, name, &github.BranchListOptions{ListOptions: github.ListOptions{Page: page, PerPage: perPage}})
			if err != nil {
				return nil, r.failed(err, resp)
			}
			for _, b := range bs {
				out.refs = append(out.refs, namedRef{name: b.GetName(), sha: b.GetCommit().GetSHA()})
			}
			if resp.NextPage == 0 {
				break
			}
			out.more = out.more || page == maxPages
		}
		for page := 1; page <= maxPages; page++ {
			if err := r.request(false); err != nil {
				return nil, err
			}
			ts, resp, err := r.c.Repositories.ListTags(ctx, owner, name, &github.ListOptions{Page: page, PerPage: perPage})
			if err != nil {
				return nil, r.failed(err, resp)
			}
			for _, t := range ts {
				out.refs = append(out.refs, namedRef{name: t.GetName(), sha: t.GetCommit().GetSHA(), tag: true})
			}
			if resp.NextPage == 0 {
				break
			}
			out.more = out.more || page == maxPages
		}
		return out, nil
	})
}

// Reach is what Reaches found.
type Reach struct {
	// By is a branch or tag that reaches the commit; "" when none does.
	By string
	// Proved: every branch and tag was looked at (By == "" is then an
	// impostor: a commit no branch or tag of the repository reaches).
	Proved bool
}

// Reaches looks for a branch or a tag of repo that reaches commit sha:
// first those whose head it is, then the default branch, the other
// branches and the tags, compared with it (at most MaxCompares). A commit
// GitHub serves under a repository's name that none of them reaches is a
// fork's, or was left behind by a force-push: an impostor.
func (r *Resolver) Reaches(ctx context.Context, repo, sha string) (Reach, error) {
	owner, name, _ := strings.Cut(repo, "/")
	if !safePart(owner) || !safePart(name) || !shaRE.MatchString(sha) {
		return Reach{}, fmt.Errorf("%q@%q: want owner/repo and a commit", repo, sha)
	}
	rr, err := r.listRefs(ctx, repo)
	if err != nil {
		return Reach{}, err
	}
	for _, n := range rr.refs {
		if n.sha == sha {
			return Reach{By: n.name, Proved: true}, nil
		}
	}
	order := slices.Clone(rr.refs)
	slices.SortStableFunc(order, func(a, b namedRef) int {
		switch {
		case a.name == rr.def && !a.tag:
			return -1
		case b.name == rr.def && !b.tag:
			return 1
		case a.tag != b.tag && !a.tag:
			return -1
		case a.tag != b.tag:
			return 1
		}
		return 0
	})
	for k, n := range order {
		if k >= r.MaxCompares {
			return Reach{}, nil
		}
		if err := r.request(false); err != nil {
			return Reach{}, err
		}
		cmp, resp, err := r.c.Repositories.CompareCommits(ctx, owner, name, n.sha, sha, &github.ListOptions{PerPage: 1})
		if err != nil {
			return Reach{}, r.failed(err, resp)
		}
		if s := cmp.GetStatus(); s == "behind" || s == "identical" {
			return Reach{By: n.name, Proved: true}, nil
		}
	}
	return Reach{Proved: !rr.more}, nil
}

// ExactTag is the most exact tag of repo at commit sha (v4.2.2 rather than
// v4), "" when no tag is there or the tags could not be read.
func (r *Resolver) ExactTag(ctx context.Context, repo, sha string) string {
	rr, err := r.listRefs(ctx, repo)
	if err != nil {
		return ""
	}
	best := ""
	for _, n := range rr.refs {
		if n.tag && n.sha == sha && (strings.Count(n.name, ".") > strings.Count(best, ".") || strings.Count(n.name, ".") == strings.Count(best, ".") && len(n.name) > len(best)) {
			best = n.name
		}
	}
	return best
}

// Exact tells a ref that reads as a full release version (v4.2.2, 1.0.0):
// one that is not meant to move, unlike v4 or main.
func Exact(ref string) bool { return exactRE.MatchString(ref) }

var exactRE = regexp.MustCompile(`^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$`)
