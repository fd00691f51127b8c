package forge

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/pinbot/pinbot/internal/safetext"
	"github.com/pinbot/pinbot/internal/wait"
)

// DefaultAPIURL is github.com's REST API.
const DefaultAPIURL = "https://api.github.com/"

// GitHubOptions configure a GitHub forge.
type GitHubOptions struct {
	// HTTPClient carries the credentials (see TokenClient).
	HTTPClient *http.Client
	// APIURL is the REST API's root: DefaultAPIURL, or a GitHub Enterprise
	// Server's https://HOST/api/v3. Plain HTTP is refused but for loopback.
	APIURL string
	// Attempts bounds the tries of one call that GitHub rate-limits or
	// fails with 5xx (default 4); MaxWait bounds each pause (default 2m).
	Attempts int
	MaxWait  time.Duration
	Logger   *slog.Logger
}

// GitHub publishes through the REST API: the Git Data API for the commit
// (no git binary, no push credentials; commits made with an App token show as
// verified), and pulls, issues and labels for the pull request.
type GitHub struct {
	c        *github.Client
	attempts int
	maxWait  time.Duration
	sleep    func(context.Context, time.Duration) error
	log      *slog.Logger
}

// APIClient is go-github's client for the REST API at apiURL ("" for
// DefaultAPIURL), through hc (nil: http.DefaultClient). The API is reached
// over HTTPS only, but on a loopback address (a test's).
func APIClient(apiURL string, hc *http.Client) (*github.Client, error) {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	u, err := url.Parse(apiURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("API URL %q: want https://HOST/api/v3 or %s", apiURL, DefaultAPIURL)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname())) {
		return nil, fmt.Errorf("API URL %q: HTTPS only (the token must not travel in clear text)", apiURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	c := github.NewClient(hc)
	c.BaseURL = u
	c.UserAgent = "pinbot"
	return c, nil
}

// WebURL is GitHub's web address for the API at apiURL: https://github.com
// for api.github.com, https://HOST for GitHub Enterprise Server's
// https://HOST/api/v3.
func WebURL(apiURL string) string {
	if apiURL == "" || strings.TrimSuffix(apiURL, "/") == strings.TrimSuffix(DefaultAPIURL, "/") {
		return "https://github.com"
	}
	u, err := url.Parse(apiURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v3")
}

// NewGitHub makes a GitHub forge.
func NewGitHub(o GitHubOptions) (*GitHub, error) {
	c, err := APIClient(o.APIURL, o.HTTPClient)
	if err != nil {
		return nil, err
	}
	g := &GitHub{c: c, attempts: o.Attempts, maxWait: o.MaxWait, sleep: wait.Sleep, log: o.Logger}
	if g.attempts <= 0 {
		g.attempts = 4
	}
	if g.maxWait <= 0 {
		g.maxWait = 2 * time.Minute
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	return g, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Permissions, as a token's scopes name them.
const (
	permContents = "contents: write"
	permPulls    = "pull-requests: write"
	permRead     = "contents: read"
)

// call runs one API call, waiting out secondary rate limits, 429 and 5xx
// answers (bounded), and explains a final failure.
func (g *GitHub) call(ctx context.Context, what, perm string, fn func() (*github.Response, error)) error {
	for attempt := 1; ; attempt++ {
		resp, err := fn()
		if err == nil {
			return nil
		}
		wait, retry := g.retryAfter(resp, err, attempt)
		if !retry || attempt >= g.attempts || ctx.Err() != nil {
			return explain(what, perm, resp, err)
		}
		if wait > g.maxWait {
			wait = g.maxWait
		}
		g.log.Warn("GitHub asks to wait", "call", what, "wait", wait, "attempt", attempt)
		if err := g.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func (g *GitHub) retryAfter(resp *github.Response, err error, attempt int) (time.Duration, bool) {
	var abuse *github.AbuseRateLimitError
	var rate *github.RateLimitError
	switch {
	case errors.As(err, &abuse):
		if abuse.RetryAfter != nil {
			return *abuse.RetryAfter + 100*time.Millisecond, true
		}
		return time.Minute, true
	case errors.As(err, &rate):
		d := time.Until(rate.Rate.Reset.Time) + time.Second
		return d, d <= g.maxWait
	case resp == nil:
		return 0, false
	case resp.StatusCode == http.StatusTooManyRequests:
		if d, ok := wait.RetryAfter(resp.Header, time.Now()); ok {
			return d, true
		}
		return time.Minute, true
	case resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout:
		return time.Duration(attempt) * 2 * time.Second, true
	}
	return 0, false
}

// APIError is a failed call, with what pinbot was doing and what to do.
type APIError struct {
	What   string // "create the pull request"
	Status int    // HTTP status, 0 when none
	Msg    string
	Err    error
}

func (e *APIError) Error() string { return fmt.Sprintf("GitHub: %s: %s", e.What, e.Msg) }
func (e *APIError) Unwrap() error { return e.Err }

func explain(what, perm string, resp *github.Response, err error) error {
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	msg := err.Error()
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		msg = er.Message
		for _, e := range er.Errors {
			if e.Message != "" {
				msg += "; " + e.Message
			} else if e.Code != "" {
				msg += fmt.Sprintf("; %s %s", e.Field, e.Code)
			}
		}
	}
	switch status {
	case http.StatusUnauthorized:
		msg = fmt.Sprintf("401 %s: the token is missing, expired or revoked (set GITHUB_TOKEN, --token-file, or the App flags)", msg)
	case http.StatusForbidden:
		msg = fmt.Sprintf("403 %s: the token needs the %s permission (a workflow grants it with a permissions: block)", msg, perm)
	case http.StatusNotFound:
		msg = "404 Not Found: " + strings.TrimPrefix(msg, "Not Found")
	case 0:
	default:
		msg = fmt.Sprintf("%d %s", status, msg)
	}
	return &APIError{What: what, Status: status, Msg: strings.TrimSpace(msg), Err: err}
}

func notFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// Publish brings the branch and its pull request in line with req.
func (g *GitHub) Publish(ctx context.Context, req Request) (*Result, error) {
	if req.Branch == "" {
		return nil, errors.New("no branch to publish on")
	}
	st, res, err := g.state(ctx, req)
	if err != nil {
		return res, err
	}
	if len(req.Files) == 0 {
		return g.publishNothing(ctx, req, st, res)
	}
	return g.publishChange(ctx, req, st, res)
}

// pubState is what Publish reads before it decides: the base branch and
// its head, the branch's head ("" when it does not exist), the open pull
// request, and the branch's commits past the base.
type pubState struct {
	base               string
	baseSHA, branchSHA string
	pr                 *github.PullRequest
	ahead              *github.CommitsComparison
}

// state reads the repository's state for req, and makes the result that
// Publish fills in. A branch holding commits that are not pinbot's is an
// error (with the result so far).
func (g *GitHub) state(ctx context.Context, req Request) (*pubState, *Result, error) {
	var repo *github.Repository
	err := g.call(ctx, "read repository "+req.Repo.String(), permRead, func() (r *github.Response, err error) {
		repo, r, err = g.c.Repositories.Get(ctx, req.Repo.Owner, req.Repo.Name)
		return
	})
	if notFound(err) {
		return nil, nil, fmt.Errorf("repository %s not found, or the token cannot see it: %w", req.Repo, err)
	}
	if err != nil {
		return nil, nil, err
	}
	st := &pubState{base: req.Base}
	if st.base == "" {
		st.base = repo.GetDefaultBranch()
	}
	if st.base == req.Branch {
		return nil, nil, fmt.Errorf("the branch %q is the base branch: pinbot needs a branch of its own", st.base)
	}
	res := &Result{Base: st.base, Branch: req.Branch, DryRun: req.DryRun}
	st.baseSHA, err = g.refSHA(ctx, req.Repo, st.base)
	if notFound(err) {
		return nil, nil, fmt.Errorf("base branch %q not found in %s: %w", st.base, req.Repo, err)
	}
	if err != nil {
		return nil, nil, err
	}
	st.branchSHA, err = g.refSHA(ctx, req.Repo, req.Branch)
	if err != nil && !notFound(err) {
		return nil, nil, err
	}
	if st.pr, err = g.openPR(ctx, req.Repo, req.Branch, st.base); err != nil {
		return nil, nil, err
	}
	if st.pr != nil {
		res.Number, res.URL = st.pr.GetNumber(), st.pr.GetHTMLURL()
	}
	if st.branchSHA != "" {
		if st.ahead, err = g.checkOwnership(ctx, req.Repo, st.base, req.Branch, st.pr, req.DryRun); err != nil {
			return nil, res, err
		}
	}
	return st, res, nil
}

// publishNothing settles a run with nothing to change: no pull request,
// or the open one kept open with its body brought up to date
// (req.KeepOpen), or closed.
func (g *GitHub) publishNothing(ctx context.Context, req Request, st *pubState, res *Result) (*Result, error) {
	pr := st.pr
	switch {
	case pr == nil:
		res.Action = Nothing
		return res, nil
	case req.KeepOpen:
		res.Action = Unchanged
		if pr.GetBody() != req.Body && !req.DryRun {
			// what it says may have changed (held moves, their first sightings)
			return res, g.editPR(ctx, req.Repo, pr.GetNumber(), &github.PullRequest{Body: &req.Body})
		}
		return res, nil
	}
	res.Action = Closed
	if req.DryRun {
		return res, nil
	}
	return res, g.close(ctx, req, pr, st.branchSHA != "")
}

// publishChange makes the branch one commit of req.Files on the base (left
// as it is when it already is that), and opens or updates the pull
// request.
func (g *GitHub) publishChange(ctx context.Context, req Request, st *pubState, res *Result) (*Result, error) {
	baseCommit, err := g.commit(ctx, req.Repo, st.baseSHA)
	if err != nil {
		return nil, err
	}
	entries, err := g.treeEntries(ctx, req.Repo, baseCommit.GetTree().GetSHA(), req.Files)
	if err != nil {
		return nil, err
	}
	for _, f := range req.Files {
		e, ok := entries[f.Path]
		if !ok {
			return nil, fmt.Errorf("%w: %s is not in %s", ErrStaleCheckout, f.Path, st.base)
		}
		if e.sha != BlobSHA(f.Old) {
			return nil, fmt.Errorf("%w: %s differs from %s's: pin a fresh checkout of %s", ErrStaleCheckout, f.Path, st.base, st.base)
		}
	}
	// Is the branch already this change on this base? Then leave it be.
	same := st.ahead != nil && sameChange(st.ahead, st.baseSHA, req.Files)
	switch {
	case st.pr == nil:
		res.Action = Opened
	case same:
		res.Action = Unchanged
	default:
		res.Action = Updated
	}
	if req.DryRun {
		return res, nil
	}
	res.Commit = st.branchSHA
	if !same {
		sha, err := g.writeCommit(ctx, req, baseCommit, entries)
		if err != nil {
			return nil, err
		}
		if err := g.moveBranch(ctx, req.Repo, req.Branch, sha, st.branchSHA != ""); err != nil {
			return nil, err
		}
		res.Commit = sha
	}
	pr := st.pr
	if pr == nil {
		if pr, err = g.createPR(ctx, req, st.base); err != nil {
			return nil, err
		}
		res.Number, res.URL = pr.GetNumber(), pr.GetHTMLURL()
		return res, g.labelAndReview(ctx, req, pr.GetNumber(), true)
	}
	if pr.GetTitle() != req.Title || pr.GetBody() != req.Body {
		if err := g.editPR(ctx, req.Repo, pr.GetNumber(), &github.PullRequest{Title: &req.Title, Body: &req.Body}); err != nil {
			return nil, err
		}
		if res.Action == Unchanged {
			res.Action = Updated
		}
	}
	return res, g.labelAndReview(ctx, req, pr.GetNumber(), false)
}

// editPR changes pull request n's title or body.
func (g *GitHub) editPR(ctx context.Context, repo Repo, n int, edit *github.PullRequest) error {
	return g.call(ctx, fmt.Sprintf("update pull request #%d", n), permPulls, func() (r *github.Response, err error) {
		_, r, err = g.c.PullRequests.Edit(ctx, repo.Owner, repo.Name, n, edit)
		return
	})
}

func (g *GitHub) refSHA(ctx context.Context, repo Repo, branch string) (string, error) {
	var ref *github.Reference
	err := g.call(ctx, "read branch "+branch, permRead, func() (r *github.Response, err error) {
		ref, r, err = g.c.Git.GetRef(ctx, repo.Owner, repo.Name, "heads/"+branch)
		return
	})
	if err != nil {
		return "", err
	}
	return ref.GetObject().GetSHA(), nil
}

func (g *GitHub) commit(ctx context.Context, repo Repo, sha string) (*github.Commit, error) {
	var c *github.Commit
	err := g.call(ctx, "read commit "+sha, permRead, func() (r *github.Response, err error) {
		c, r, err = g.c.Git.GetCommit(ctx, repo.Owner, repo.Name, sha)
		return
	})
	return c, err
}

// openPR finds the open pull request from branch to base.
func (g *GitHub) openPR(ctx context.Context, repo Repo, branch, base string) (*github.PullRequest, error) {
	var prs []*github.PullRequest
	err := g.call(ctx, "list pull requests", permRead, func() (r *github.Response, err error) {
		prs, r, err = g.c.PullRequests.List(ctx, repo.Owner, repo.Name, &github.PullRequestListOptions{
			State: "open", Head: repo.Owner + ":" + branch, Base: base,
		})
		return
	})
	if err != nil {
		return nil, err
	}
	for _, pr := range prs {
		if pr.GetHead().GetRef() == branch && pr.GetBase().GetRef() == base {
			return pr, nil
		}
	}
	return nil, nil
}

// checkOwnership refuses a branch that holds commits pinbot did not make,
// and says so on its pull request.
func (g *GitHub) checkOwnership(ctx context.Context, req Repo, base, branch string, pr *github.PullRequest, dryRun bool) (*github.CommitsComparison, error) {
	var cmp *github.CommitsComparison
	err := g.call(ctx, "compare "+base+"..."+branch, permRead, func() (r *github.Response, err error) {
		cmp, r, err = g.c.Repositories.CompareCommits(ctx, req.Owner, req.Name, base, branch, &github.ListOptions{PerPage: 250})
		return
	})
	if err != nil {
		return nil, err
	}
	// A commit's subject is someone else's text: quoted for the terminal,
	// escaped for the comment's Markdown.
	var foreign, foreignMD []string
	for _, c := range cmp.Commits {
		msg := c.GetCommit().GetMessage()
		if !hasTrailer(msg) {
			line, _, _ := strings.Cut(msg, "\n")
			sha := fmt.Sprintf("%.12s", c.GetSHA())
			foreign = append(foreign, safetext.Term(sha+" "+line))
			foreignMD = append(foreignMD, safetext.MarkdownCode(sha)+" "+safetext.MarkdownText(line))
		}
	}
	if len(foreign) == 0 {
		return cmp, nil
	}
	err = fmt.Errorf("%w: %s has %s; pinbot leaves it alone (merge or close the pull request, or delete the branch)",
		ErrForeignCommits, safetext.Term(branch), strings.Join(foreign, ", "))
	if pr != nil && !dryRun {
		body := "pinbot did not update this branch: it holds commits pinbot did not make (" + strings.Join(foreignMD, ", ") +
			"), and pinbot never overwrites them. Merge or close this pull request, or delete the branch, and pinbot will open a fresh one."
		if cerr := g.commentOnce(ctx, req, pr.GetNumber(), body); cerr != nil {
			return nil, errors.Join(err, cerr)
		}
	}
	return nil, err
}

func hasTrailer(msg string) bool {
	for _, line := range strings.Split(msg, "\n") {
		if strings.TrimSpace(line) == Trailer {
			return true
		}
	}
	return false
}

// commentOnce comments unless the latest comment already says the same.
func (g *GitHub) commentOnce(ctx context.Context, repo Repo, number int, body string) error {
	var comments []*github.IssueComment
	err := g.call(ctx, fmt.Sprintf("read comments of #%d", number), permRead, func() (r *github.Response, err error) {
		comments, r, err = g.c.Issues.ListComments(ctx, repo.Owner, repo.Name, number, &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}})
		return
	})
	if err != nil {
		return err
	}
	if len(comments) > 0 && comments[len(comments)-1].GetBody() == body {
		return nil
	}
	return g.call(ctx, fmt.Sprintf("comment on #%d", number), permPulls, func() (r *github.Response, err error) {
		_, r, err = g.c.Issues.CreateComment(ctx, repo.Owner, repo.Name, number, &github.IssueComment{Body: &body})
		return
	})
}

// close says the pins are current, closes the pull request and deletes the branch.
func (g *GitHub) close(ctx context.Context, req Request, pr *github.PullRequest, deleteBranch bool) error {
	o, n, num := req.Repo.Owner, req.Repo.Name, pr.GetNumber()
	if err := g.commentOnce(ctx, req.Repo, num, req.CurrentComment); err != nil {
		return err
	}
	closed := "closed"
	err := g.call(ctx, fmt.Sprintf("close pull request #%d", num), permPulls, func() (r *github.Response, err error) {
		_, r, err = g.c.PullRequests.Edit(ctx, o, n, num, &github.PullRequest{State: &closed})
		return
	})
	if err != nil || !deleteBranch {
		return err
	}
	err = g.call(ctx, "delete branch "+req.Branch, permContents, func() (*github.Response, error) {
		return g.c.Git.DeleteRef(ctx, o, n, "heads/"+req.Branch)
	})
	if notFound(err) {
		return nil
	}
	return err
}

type entry struct{ sha, mode string }

// treeEntries finds the files' entries in a tree: one recursive listing, or,
// when GitHub truncates it (very large trees), a walk down each file's path.
func (g *GitHub) treeEntries(ctx context.Context, repo Repo, treeSHA string, files []File) (map[string]entry, error) {
	var t *github.Tree
	err := g.call(ctx, "read tree "+treeSHA, permRead, func() (r *github.Response, err error) {
		t, r, err = g.c.Git.GetTree(ctx, repo.Owner, repo.Name, treeSHA, true)
		return
	})
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, f := range files {
		want[f.Path] = true
	}
	out := map[string]entry{}
	if !t.GetTruncated() {
		for _, e := range t.Entries {
			if e.GetType() == "blob" && want[e.GetPath()] {
				out[e.GetPath()] = entry{sha: e.GetSHA(), mode: e.GetMode()}
			}
		}
		return out, nil
	}
	dirs := map[string]map[string]*github.TreeEntry{}
	list := func(dir, sha string) (map[string]*github.TreeEntry, error) {
		if m, ok := dirs[dir]; ok {
			return m, nil
		}
		var sub *github.Tree
		err := g.call(ctx, "read tree "+sha, permRead, func() (r *github.Response, err error) {
			sub, r, err = g.c.Git.GetTree(ctx, repo.Owner, repo.Name, sha, false)
			return
		})
		if err != nil {
			return nil, err
		}
		m := map[string]*github.TreeEntry{}
		for _, e := range sub.Entries {
			m[e.GetPath()] = e
		}
		dirs[dir] = m
		return m, nil
	}
	for p := range want {
		sha, dir := treeSHA, ""
		parts := strings.Split(p, "/")
		for i, part := range parts {
			m, err := list(dir, sha)
			if err != nil {
				return nil, err
			}
			e, ok := m[part]
			if !ok {
				break
			}
			if i == len(parts)-1 {
				if e.GetType() == "blob" {
					out[p] = entry{sha: e.GetSHA(), mode: e.GetMode()}
				}
				break
			}
			sha, dir = e.GetSHA(), path.Join(dir, part)
		}
	}
	return out, nil
}

// sameChange reports whether the branch is one commit on top of the base
// that changes exactly these files to exactly these bytes.
func sameChange(cmp *github.CommitsComparison, baseSHA string, files []File) bool {
	if len(cmp.Commits) != 1 || cmp.GetBehindBy() != 0 || cmp.GetMergeBaseCommit().GetSHA() != baseSHA || len(cmp.Files) != len(files) {
		return false
	}
	want := map[string]string{}
	for _, f := range files {
		want[f.Path] = BlobSHA(f.New)
	}
	for _, cf := range cmp.Files {
		if want[cf.GetFilename()] == "" || want[cf.GetFilename()] != cf.GetSHA() {
			return false
		}
	}
	return true
}

// writeCommit makes blobs, a tree on top of the base's and one commit.
func (g *GitHub) writeCommit(ctx context.Context, req Request, base *github.Commit, entries map[string]entry) (string, error) {
	o, n := req.Repo.Owner, req.Repo.Name
	files := append([]File(nil), req.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	var tes []*github.TreeEntry
	for _, f := range files {
		content := base64.StdEncoding.EncodeToString(f.New)
		enc := "base64"
		var blob *github.Blob
		err := g.call(ctx, "create blob for "+f.Path, permContents, func() (r *github.Response, err error) {
			blob, r, err = g.c.Git.CreateBlob(ctx, o, n, &github.Blob{Content: &content, Encoding: &enc})
			return
		})
		if err != nil {
			return "", err
		}
		if got, want := blob.GetSHA(), BlobSHA(f.New); got != want {
			return "", fmt.Errorf("GitHub stored %s as blob %s, want %s", f.Path, got, want)
		}
		mode := entries[f.Path].mode
		if mode == "" {
			mode = "100644"
			if f.Mode&0o111 != 0 {
				mode = "100755"
			}
		}
		tes = append(tes, &github.TreeEntry{Path: github.String(f.Path), Mode: github.String(mode), Type: github.String("blob"), SHA: blob.SHA})
	}
	var tree *github.Tree
	err := g.call(ctx, "create tree", permContents, func() (r *github.Response, err error) {
		tree, r, err = g.c.Git.CreateTree(ctx, o, n, base.GetTree().GetSHA(), tes)
		return
	})
	if err != nil {
		return "", err
	}
	msg := strings.TrimRight(req.CommitMessage, "\n") + "\n\n" + Trailer + "\n"
	var c *github.Commit
	err = g.call(ctx, "create commit", permContents, func() (r *github.Response, err error) {
		c, r, err = g.c.Git.CreateCommit(ctx, o, n, &github.Commit{
			Message: &msg, Tree: &github.Tree{SHA: tree.SHA}, Parents: []*github.Commit{{SHA: base.SHA}},
		}, nil)
		return
	})
	if err != nil {
		return "", err
	}
	return c.GetSHA(), nil
}

// moveBranch points the branch at sha: created, or force-updated (it holds
// only pinbot's commits, checked before).
func (g *GitHub) moveBranch(ctx context.Context, repo Repo, branch, sha string, exists bool) error {
	ref := "refs/heads/" + branch
	if exists {
		return g.call(ctx, "update branch "+branch, permContents, func() (r *github.Response, err error) {
			_, r, err = g.c.Git.UpdateRef(ctx, repo.Owner, repo.Name, &github.Reference{Ref: &ref, Object: &github.GitObject{SHA: &sha}}, true)
			return
		})
	}
	return g.call(ctx, "create branch "+branch, permContents, func() (r *github.Response, err error) {
		_, r, err = g.c.Git.CreateRef(ctx, repo.Owner, repo.Name, &github.Reference{Ref: &ref, Object: &github.GitObject{SHA: &sha}})
		return
	})
}

// createPR opens the pull request; if GitHub answers that one already exists
// (opened meanwhile), that one is updated instead.
func (g *GitHub) createPR(ctx context.Context, req Request, base string) (*github.PullRequest, error) {
	o, n := req.Repo.Owner, req.Repo.Name
	var pr *github.PullRequest
	err := g.call(ctx, "create the pull request", permPulls, func() (r *github.Response, err error) {
		pr, r, err = g.c.PullRequests.Create(ctx, o, n, &github.NewPullRequest{
			Title: &req.Title, Head: &req.Branch, Base: &base, Body: &req.Body, Draft: &req.Draft,
		})
		return
	})
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity && strings.Contains(ae.Msg, "already exists") {
		existing, lerr := g.openPR(ctx, req.Repo, req.Branch, base)
		if lerr != nil || existing == nil {
			return nil, err
		}
		err = g.call(ctx, fmt.Sprintf("update pull request #%d", existing.GetNumber()), permPulls, func() (r *github.Response, err error) {
			pr, r, err = g.c.PullRequests.Edit(ctx, o, n, existing.GetNumber(), &github.PullRequest{Title: &req.Title, Body: &req.Body})
			return
		})
	}
	return pr, err
}

// labelAndReview adds the labels (creating missing ones) and, on a new pull
// request, asks the reviewers.
func (g *GitHub) labelAndReview(ctx context.Context, req Request, number int, created bool) error {
	o, n := req.Repo.Owner, req.Repo.Name
	if len(req.Labels) > 0 {
		for _, l := range req.Labels {
			if err := g.ensureLabel(ctx, req.Repo, l); err != nil {
				return err
			}
		}
		err := g.call(ctx, fmt.Sprintf("label #%d", number), permPulls, func() (r *github.Response, err error) {
			_, r, err = g.c.Issues.AddLabelsToIssue(ctx, o, n, number, req.Labels)
			return
		})
		if err != nil {
			return err
		}
	}
	if !created || len(req.Reviewers) == 0 {
		return nil
	}
	var rr github.ReviewersRequest
	for _, r := range req.Reviewers {
		if org, team, ok := strings.Cut(r, "/"); ok && org != "" {
			rr.TeamReviewers = append(rr.TeamReviewers, team)
		} else {
			rr.Reviewers = append(rr.Reviewers, r)
		}
	}
	return g.call(ctx, fmt.Sprintf("request reviewers on #%d", number), permPulls, func() (r *github.Response, err error) {
		_, r, err = g.c.PullRequests.RequestReviewers(ctx, o, n, number, rr)
		return
	})
}

// LabelColor is the color of labels pinbot creates.
const LabelColor = "0e8a16"

func (g *GitHub) ensureLabel(ctx context.Context, repo Repo, name string) error {
	err := g.call(ctx, "read label "+name, permRead, func() (r *github.Response, err error) {
		_, r, err = g.c.Issues.GetLabel(ctx, repo.Owner, repo.Name, name)
		return
	})
	if !notFound(err) {
		return err
	}
	desc := "Container image digests pinned by pinbot"
	color := LabelColor
	err = g.call(ctx, "create label "+name, permPulls, func() (r *github.Response, err error) {
		_, r, err = g.c.Issues.CreateLabel(ctx, repo.Owner, repo.Name, &github.Label{Name: &name, Color: &color, Description: &desc})
		return
	})
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity && strings.Contains(ae.Msg, "already_exists") {
		return nil // created meanwhile
	}
	return err
}

// OpenBody is the body of the pull request open from branch (to any base)
// and when it was opened; "" when there is none: what an earlier run wrote
// there for the next to read back (the first sightings of moved tags).
func (g *GitHub) OpenBody(ctx context.Context, repo Repo, branch string) (body string, opened time.Time, err error) {
	var prs []*github.PullRequest
	err = g.call(ctx, "list pull requests", permRead, func() (r *github.Response, err error) {
		prs, r, err = g.c.PullRequests.List(ctx, repo.Owner, repo.Name, &github.PullRequestListOptions{
			State: "open", Head: repo.Owner + ":" + branch,
		})
		return
	})
	if err != nil {
		return "", time.Time{}, err
	}
	for _, pr := range prs {
		if pr.GetHead().GetRef() == branch {
			if pr.CreatedAt == nil {
				// no time to bound the sightings by: none is trusted
				return "", time.Time{}, nil
			}
			return pr.GetBody(), pr.GetCreatedAt().Time, nil
		}
	}
	return "", time.Time{}, nil
}
