// Package actionstest serves the part of GitHub's REST API that pinbot asks
// about actions (a ref's commit, branches, tags, comparisons, the
// repository) from real Git repositories made in the test with the git
// command: lightweight and annotated tags, branches, tags that move, and a
// fork's commit that GitHub serves under its parent's name though no ref of
// the parent reaches it. It counts requests, conditional ones and 304s, and
// can run out of rate limit.
package actionstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TB is what the server needs of its caller: a test, a test script, or a
// program (the quick start).
type TB interface {
	Fatal(args ...any)
}

// Server is the fake API.
type Server struct {
	*httptest.Server
	t     TB
	dir   string
	mu    sync.Mutex
	repos map[string]*Repo
	// Requests, Conditional and NotModified count what was asked.
	Requests, Conditional, NotModified int
	// Paths are the paths asked, in order.
	Paths []string
	// Remaining is the requests left before the rate limit (-1: none).
	Remaining int
	// LimitStatus is the status of a request past the limit: 403, as
	// GitHub answers, or 429.
	LimitStatus int
	// Token, when set, is the token private repositories need.
	Token string
	// JSONOnly answers a commit as its object, whatever the request
	// accepts.
	JSONOnly bool
}

// Repo is a Git repository the server serves as owner/name.
type Repo struct {
	s       *Server
	Name    string
	Dir     string
	Default string
	Private bool
	n       int
}

// New starts a server; it stops with the test.
func New(t testing.TB) *Server {
	t.Helper()
	s := Start(t)
	t.Cleanup(s.Close)
	return s
}

// Start starts a server; Close stops it and removes its repositories.
func Start(t TB) *Server {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed: ", err)
	}
	dir, err := os.MkdirTemp("", "pinbot-github")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, dir: dir, repos: map[string]*Repo{}, Remaining: -1}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server and removes its repositories.
func (s *Server) Close() {
	s.Server.Close()
	os.RemoveAll(s.dir)
}

// git runs git in dir and returns its output.
func git(t TB, dir string, args ...string) string {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.com", "GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatal(fmt.Sprintf("git %s: %v\n%s", strings.Join(args, " "), err, out))
	}
	return strings.TrimSpace(string(out))
}

// Repo makes repository owner/name with one commit on main.
func (s *Server) Repo(name string) *Repo {
	dir := filepath.Join(s.dir, strings.ReplaceAll(name, "/", "__"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	git(s.t, dir, "init", "-q", "-b", "main")
	r := &Repo{s: s, Name: name, Dir: dir, Default: "main"}
	r.Commit("first")
	s.mu.Lock()
	s.repos[name] = r
	s.mu.Unlock()
	return r
}

// Commit makes a commit on the branch checked out, and returns its SHA.
func (r *Repo) Commit(msg string) string {
	r.n++
	if err := os.WriteFile(filepath.Join(r.Dir, "f"), []byte(fmt.Sprintf("%s %d\n", msg, r.n)), 0o644); err != nil {
		r.s.t.Fatal(err)
	}
	git(r.s.t, r.Dir, "add", "f")
	git(r.s.t, r.Dir, "commit", "-q", "-m", msg)
	return git(r.s.t, r.Dir, "rev-parse", "HEAD")
}

// Tag points lightweight tag name at commit (moving it if it exists).
func (r *Repo) Tag(name, commit string) { git(r.s.t, r.Dir, "tag", "-f", name, commit) }

// AnnotatedTag points an annotated tag at commit, and returns the tag
// object's SHA (which is no commit).
func (r *Repo) AnnotatedTag(name, commit string) string {
	git(r.s.t, r.Dir, "tag", "-f", "-a", "-m", name, name, commit)
	return git(r.s.t, r.Dir, "rev-parse", name)
}

// Branch points branch name at commit.
func (r *Repo) Branch(name, commit string) { git(r.s.t, r.Dir, "branch", "-f", name, commit) }

// ForkCommit makes a commit in a fork of r and puts its objects in r's
// store with no ref of r reaching it, as GitHub serves a fork's commits
// under its parent's name. It returns the commit.
func (r *Repo) ForkCommit(msg string) string {
	fork := r.Dir + "-fork"
	git(r.s.t, filepath.Dir(r.Dir), "clone", "-q", r.Dir, fork)
	if err := os.WriteFile(filepath.Join(fork, "evil"), []byte(msg+"\n"), 0o644); err != nil {
		r.s.t.Fatal(err)
	}
	git(r.s.t, fork, "add", "evil")
	git(r.s.t, fork, "commit", "-q", "-m", msg)
	sha := git(r.s.t, fork, "rev-parse", "HEAD")
	git(r.s.t, r.Dir, "fetch", "-q", fork, "HEAD:refs/pinbot-tmp")
	git(r.s.t, r.Dir, "update-ref", "-d", "refs/pinbot-tmp")
	return sha
}

func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	s.Requests++
	s.Paths = append(s.Paths, req.URL.Path)
	if req.Header.Get("If-None-Match") != "" {
		s.Conditional++
	}
	if s.Remaining == 0 {
		s.mu.Unlock()
		w.Header().Set("X-RateLimit-Limit", "60")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), 10))
		status := s.LimitStatus
		if status == 0 {
			status = http.StatusForbidden
		}
		writeJSON(w, status, map[string]string{"message": "API rate limit exceeded"})
		return
	}
	if s.Remaining > 0 {
		s.Remaining--
	}
	s.mu.Unlock()
	if req.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "not allowed"})
		return
	}
	m := routeRE.FindStringSubmatch(strings.TrimPrefix(req.URL.Path, "/api/v3"))
	if m == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	s.mu.Lock()
	r := s.repos[m[1]]
	s.mu.Unlock()
	if r == nil || r.Private && (s.Token == "" || req.Header.Get("Authorization") != "Bearer "+s.Token) {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	switch rest := m[2]; {
	case rest == "":
		writeJSON(w, 200, map[string]any{"full_name": r.Name, "default_branch": r.Default, "private": r.Private})
	case strings.HasPrefix(rest, "/commits/"):
		s.commit(w, req, r, strings.TrimPrefix(rest, "/commits/"))
	case rest == "/branches":
		r.list(w, req, "refs/heads", false)
	case rest == "/tags":
		r.list(w, req, "refs/tags", true)
	case strings.HasPrefix(rest, "/compare/"):
		r.compare(w, strings.TrimPrefix(rest, "/compare/"))
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
	}
}

var routeRE = regexp.MustCompile(`^/repos/([^/]+/[^/]+)(/.*)?$`)

// resolve is the commit a ref names in r ("" when none): a branch, a tag
// peeled to its commit, or a full commit SHA r holds.
func (r *Repo) resolve(ref string) string {
	cmd := exec.Command("git", "rev-parse", "-q", "--verify", "--end-of-options", ref+"^{commit}")
	cmd.Dir = r.Dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func (s *Server) commit(w http.ResponseWriter, req *http.Request, r *Repo, ref string) {
	sha := r.resolve(ref)
	if sha == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "No commit found for SHA: " + ref})
		return
	}
	etag := `"` + sha + `"`
	w.Header().Set("ETag", etag)
	if req.Header.Get("If-None-Match") == etag {
		s.mu.Lock()
		s.NotModified++
		s.mu.Unlock()
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if s.JSONOnly || !strings.Contains(req.Header.Get("Accept"), "sha") {
		writeJSON(w, 200, map[string]any{"sha": sha})
		return
	}
	w.WriteHeader(200)
	fmt.Fprint(w, sha)
}

// list serves branches or tags, a page at a time.
func (r *Repo) list(w http.ResponseWriter, req *http.Request, prefix string, tags bool) {
	cmd := exec.Command("git", "for-each-ref", "--format=%(refname:lstrip=2) %(*objectname) %(objectname)", prefix)
	cmd.Dir = r.Dir
	out, err := cmd.Output()
	if err != nil {
		writeJSON(w, 500, map[string]string{"message": err.Error()})
		return
	}
	var all []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		sha := f[len(f)-1] // an annotated tag: its peeled commit comes first
		if len(f) == 3 {
			sha = f[1]
		}
		all = append(all, map[string]any{"name": f[0], "commit": map[string]string{"sha": sha}})
	}
	per, _ := strconv.Atoi(req.URL.Query().Get("per_page"))
	if per <= 0 {
		per = 30
	}
	page, _ := strconv.Atoi(req.URL.Query().Get("page"))
	if page <= 0 {
		page = 1
	}
	lo, hi := min((page-1)*per, len(all)), min(page*per, len(all))
	if hi < len(all) {
		u := *req.URL
		q := u.Query()
		q.Set("page", strconv.Itoa(page+1))
		u.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<http://%s%s>; rel="next"`, req.Host, u.String()))
	}
	page1 := all[lo:hi]
	if page1 == nil {
		page1 = []map[string]any{}
	}
	writeJSON(w, 200, page1)
}

// compare says how head stands to base: identical, behind (an ancestor of
// base), ahead or diverged.
func (r *Repo) compare(w http.ResponseWriter, basehead string) {
	base, head, ok := strings.Cut(basehead, "...")
	b, h := r.resolve(base), r.resolve(head)
	if !ok || b == "" || h == "" {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	ancestor := func(a, d string) bool {
		cmd := exec.Command("git", "merge-base", "--is-ancestor", a, d)
		cmd.Dir = r.Dir
		return cmd.Run() == nil
	}
	status := "diverged"
	switch {
	case b == h:
		status = "identical"
	case ancestor(h, b):
		status = "behind"
	case ancestor(b, h):
		status = "ahead"
	}
	writeJSON(w, 200, map[string]any{"status": status})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
