// Package githubfake is an in-process stand-in for the part of GitHub's REST
// API that pinbot uses, with real state: repositories hold git objects
// (blobs with git's own ids, nested trees, commits, refs), pull requests,
// comments and labels; tokens carry permissions; GitHub Apps mint
// installation tokens from a signed JWT. It rejects what the real API
// rejects: unknown or missing fields, wrong methods, missing permissions,
// a second pull request for the same branch, a pull request with no commits.
// Faults (rate limits, errors) can be injected per route.
package githubfake

import (
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Permission levels, as GitHub names them.
const (
	Read  = "read"
	Write = "write"
)

// Token is what an access token may do.
type Token struct {
	Contents     string   // "", read, write
	PullRequests string   // "", read, write
	Repos        []string // "owner/name" it can see; none means all
	Login        string   // who it acts as

	installation *installation // set for installation tokens
}

// Server is the fake API. URL is its root, to use as the API URL.
type Server struct {
	URL string
	srv *httptest.Server

	mu     sync.Mutex
	repos  map[string]*repo
	tokens map[string]*Token
	apps   map[int64]*app
	faults []*fault
	calls  []string
	seq    int
	// truncate makes every recursive tree listing come back truncated and empty.
	truncate bool
}

// TruncateTrees makes recursive tree listings come back truncated, as
// GitHub answers for very large repositories.
func (s *Server) TruncateTrees(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncate = on
}

type app struct {
	key           *rsa.PublicKey
	installations []*installation // one per account it is installed on
	perms         Token
}

// installation is an App installed on an account, for the repositories
// selected there.
type installation struct {
	id      int64
	account string
	repos   []string // full names
}

// installationOf is the installation whose selection holds repo.
func (a *app) installationOf(repo string) *installation {
	for _, in := range a.installations {
		for _, r := range in.repos {
			if r == repo {
				return in
			}
		}
	}
	return nil
}

type fault struct {
	method, contains string
	times            int
	status           int
	header           http.Header
	body             string
}

// New starts a fake API server.
func New() *Server {
	s := &Server{repos: map[string]*repo{}, tokens: map[string]*Token{}, apps: map[int64]*app{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/"
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddToken registers an access token.
func (s *Server) AddToken(token string, t Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.Login == "" {
		t.Login = "github-actions[bot]"
	}
	s.tokens[token] = &t
}

// AddApp registers a GitHub App installed, on each account, for the
// repositories named there (owner/name); its installation tokens get
// perms.
func (s *Server) AddApp(id int64, key *rsa.PublicKey, perms Token, repos ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &app{key: key, perms: perms}
	for _, r := range repos {
		owner, _, _ := strings.Cut(r, "/")
		var in *installation
		for _, x := range a.installations {
			if x.account == owner {
				in = x
			}
		}
		if in == nil {
			in = &installation{id: id*1000 + int64(len(a.installations)) + 1, account: owner}
			a.installations = append(a.installations, in)
		}
		in.repos = append(in.repos, r)
	}
	s.apps[id] = a
}

// SetRepoFlags marks a repository archived, or a fork.
func (s *Server) SetRepoFlags(fullName string, archived, fork bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repos[fullName]; r != nil {
		r.archived, r.fork = archived, fork
	}
}

// Fail makes the next times requests whose method is method and whose path
// contains contains answer status with header and body.
func (s *Server) Fail(method, contains string, times, status int, header http.Header, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method, contains, times, status, header, body})
}

// page answers one page of a list (?page=N&per_page=M, GitHub's default
// of 30 a page), with the Link header that points at the next.
func page(req *http.Request, all []any, wrap func([]any) any) (any, int, *apiError) {
	q := req.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	n, _ := strconv.Atoi(q.Get("page"))
	if n <= 0 {
		n = 1
	}
	start := min((n-1)*per, len(all))
	end := min(start+per, len(all))
	items := all[start:end]
	if items == nil {
		items = []any{}
	}
	var link string
	if end < len(all) {
		u := *req.URL
		q.Set("page", strconv.Itoa(n+1))
		q.Set("per_page", strconv.Itoa(per))
		u.RawQuery = q.Encode()
		link = fmt.Sprintf(`<http://%s%s>; rel="next"`, req.Host, u.RequestURI())
	}
	return paged{wrap(items), link}, http.StatusOK, nil
}

// paged is a response with a Link header.
type paged struct {
	body any
	link string
}

// SecondaryRateLimit is the body GitHub sends with a secondary rate limit.
const SecondaryRateLimit = `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`

// Calls are the requests served so far, as "METHOD /path".
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// ---- git objects ----

type treeEntry struct {
	Name, Mode, Type, SHA string
}

type commit struct {
	SHA, Tree, Message, Author string
	Parents                    []string
}

type pull struct {
	Number             int
	Title, Body, State string
	Head, Base         string
	Draft              bool
	User               string
	Labels             []string
	Reviewers, Teams   []string
	Created            time.Time
}

type label struct{ Name, Color, Description string }

type repo struct {
	owner, name, defaultBranch string
	archived, fork             bool
	blobs                      map[string][]byte
	trees                      map[string][]treeEntry
	commits                    map[string]*commit
	refs                       map[string]string // "heads/main" -> sha
	pulls                      []*pull
	comments                   map[int][]string
	commentAuthors             map[int][]string
	labels                     map[string]*label
	next                       int
}

func blobSHA(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func (r *repo) storeTree(entries map[string]treeEntry) string {
	var list []treeEntry
	for _, e := range entries {
		list = append(list, e)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	h := sha1.New()
	for _, e := range list {
		fmt.Fprintf(h, "%s %s %s %s\n", e.Mode, e.Type, e.Name, e.SHA)
	}
	sha := hex.EncodeToString(h.Sum(nil))
	r.trees[sha] = list
	return sha
}

// updateTree applies changes (path -> entry; nil deletes) to tree base.
func (r *repo) updateTree(base string, changes map[string]*treeEntry) string {
	entries := map[string]treeEntry{}
	for _, e := range r.trees[base] {
		entries[e.Name] = e
	}
	groups := map[string]map[string]*treeEntry{}
	for p, e := range changes {
		first, rest, nested := strings.Cut(p, "/")
		if !nested {
			if e == nil {
				delete(entries, first)
			} else {
				ne := *e
				ne.Name = first
				entries[first] = ne
			}
			continue
		}
		if groups[first] == nil {
			groups[first] = map[string]*treeEntry{}
		}
		groups[first][rest] = e
	}
	for dir, sub := range groups {
		subBase := ""
		if e, ok := entries[dir]; ok && e.Type == "tree" {
			subBase = e.SHA
		}
		entries[dir] = treeEntry{Name: dir, Mode: "040000", Type: "tree", SHA: r.updateTree(subBase, sub)}
	}
	return r.storeTree(entries)
}

type flatEntry struct{ Path, Mode, Type, SHA string }

func (r *repo) flatten(tree, prefix string, out *[]flatEntry) {
	for _, e := range r.trees[tree] {
		p := path.Join(prefix, e.Name)
		*out = append(*out, flatEntry{p, e.Mode, e.Type, e.SHA})
		if e.Type == "tree" {
			r.flatten(e.SHA, p, out)
		}
	}
}

func (r *repo) blobsOf(tree string) map[string]flatEntry {
	var all []flatEntry
	r.flatten(tree, "", &all)
	out := map[string]flatEntry{}
	for _, e := range all {
		if e.Type == "blob" {
			out[e.Path] = e
		}
	}
	return out
}

func (s *Server) newCommit(r *repo, tree, message, author string, parents ...string) string {
	s.seq++
	h := sha1.New()
	fmt.Fprintf(h, "tree %s\nparents %v\nauthor %s\n%d\n\n%s", tree, parents, author, s.seq, message)
	sha := hex.EncodeToString(h.Sum(nil))
	r.commits[sha] = &commit{SHA: sha, Tree: tree, Message: message, Author: author, Parents: parents}
	return sha
}

// CreateRepo makes owner/name whose default branch holds files (path ->
// bytes; a path ending in "*" is stored executable, without the star).
func (s *Server) CreateRepo(fullName, defaultBranch string, files map[string][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, name, _ := strings.Cut(fullName, "/")
	r := &repo{owner: owner, name: name, defaultBranch: defaultBranch, blobs: map[string][]byte{},
		trees: map[string][]treeEntry{}, commits: map[string]*commit{}, refs: map[string]string{},
		comments: map[int][]string{}, commentAuthors: map[int][]string{}, labels: map[string]*label{}, next: 1}
	r.storeTree(map[string]treeEntry{})
	tree := r.updateTree("", r.blobChanges(files))
	r.refs["heads/"+defaultBranch] = s.newCommit(r, tree, "initial commit", "octocat")
	s.repos[fullName] = r
}

func (r *repo) blobChanges(files map[string][]byte) map[string]*treeEntry {
	changes := map[string]*treeEntry{}
	for p, data := range files {
		mode := "100644"
		if strings.HasSuffix(p, "*") {
			p, mode = strings.TrimSuffix(p, "*"), "100755"
		}
		sha := blobSHA(data)
		r.blobs[sha] = append([]byte(nil), data...)
		changes[p] = &treeEntry{Mode: mode, Type: "blob", SHA: sha}
	}
	return changes
}

// Push commits files (path -> bytes) on top of branch as author, the way a
// person pushing to the branch would.
func (s *Server) Push(fullName, branch, author, message string, files map[string][]byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[fullName]
	if !ok {
		return "", fmt.Errorf("no repository %s", fullName)
	}
	head, ok := r.refs["heads/"+branch]
	if !ok {
		return "", fmt.Errorf("no branch %s", branch)
	}
	tree := r.updateTree(r.commits[head].Tree, r.blobChanges(files))
	sha := s.newCommit(r, tree, message, author, head)
	r.refs["heads/"+branch] = sha
	return sha, nil
}

// File is a file's bytes and mode at a branch, or an error.
func (s *Server) File(fullName, branch, p string) ([]byte, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[fullName]
	if !ok {
		return nil, "", fmt.Errorf("no repository %s", fullName)
	}
	head, ok := r.refs["heads/"+branch]
	if !ok {
		return nil, "", fmt.Errorf("no branch %s", branch)
	}
	e, ok := r.blobsOf(r.commits[head].Tree)[p]
	if !ok {
		return nil, "", fmt.Errorf("no file %s on %s", p, branch)
	}
	return r.blobs[e.SHA], e.Mode, nil
}

// Branch is a branch's head commit: sha, message, parents ("" sha: none).
func (s *Server) Branch(fullName, branch string) (sha, message string, parents []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[fullName]
	if !ok {
		return "", "", nil
	}
	sha = r.refs["heads/"+branch]
	if c := r.commits[sha]; c != nil {
		return sha, c.Message, c.Parents
	}
	return sha, "", nil
}

// PR is a pull request as tests see it.
type PR struct {
	Number             int
	Title, Body, State string
	Head, Base         string
	Draft              bool
	Labels             []string
	Reviewers, Teams   []string
	Comments           []string
}

// Pulls lists a repository's pull requests.
func (s *Server) Pulls(fullName string) []PR {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[fullName]
	if r == nil {
		return nil
	}
	var out []PR
	for _, p := range r.pulls {
		out = append(out, PR{p.Number, p.Title, p.Body, p.State, p.Head, p.Base, p.Draft, append([]string(nil), p.Labels...),
			append([]string(nil), p.Reviewers...), append([]string(nil), p.Teams...), append([]string(nil), r.comments[p.Number]...)})
	}
	return out
}

// BackdatePull sets when pull request number was opened.
func (s *Server) BackdatePull(fullName string, number int, opened time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repos[fullName]; r != nil {
		for _, p := range r.pulls {
			if p.Number == number {
				p.Created = opened.UTC()
			}
		}
	}
}

// EditPullBody rewrites pull request number's body with edit, as a person
// editing it on GitHub would.
func (s *Server) EditPullBody(fullName string, number int, edit func(string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repos[fullName]; r != nil {
		for _, p := range r.pulls {
			if p.Number == number {
				p.Body = edit(p.Body)
			}
		}
	}
}

// Label is a repository label's color and description.
func (s *Server) Label(fullName, name string) (color, description string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repos[fullName]; r != nil {
		if l := r.labels[name]; l != nil {
			return l.Color, l.Description, true
		}
	}
	return "", "", false
}

// ---- HTTP ----

type apiError struct {
	status int
	body   any
}

func fail(status int, msg string) *apiError {
	return &apiError{status, map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest"}}
}

func validation(msg string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest",
		"errors": []any{map[string]any{"resource": "Request", "code": "custom", "message": msg}},
	}}
}

// strict decodes a JSON body into v, refusing unknown fields.
func strict(req *http.Request, v any) *apiError {
	dec := json.NewDecoder(req.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &apiError{http.StatusUnprocessableEntity, map[string]any{"message": "Invalid request.\n\n" + err.Error()}}
	}
	return nil
}

type caller struct {
	token *Token
	app   *app
	appID int64
}

func (s *Server) authenticate(req *http.Request) (*caller, *apiError) {
	h := req.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token") || cred == "" {
		return nil, fail(http.StatusUnauthorized, "Requires authentication")
	}
	if t, ok := s.tokens[cred]; ok {
		return &caller{token: t}, nil
	}
	// a GitHub App's JWT
	claims := jwt.RegisteredClaims{}
	var found *app
	var id int64
	_, err := jwt.ParseWithClaims(cred, &claims, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.GetIssuer()
		n, err := strconv.ParseInt(iss, 10, 64)
		if err != nil || s.apps[n] == nil {
			return nil, fmt.Errorf("unknown app %q", iss)
		}
		found, id = s.apps[n], n
		return found.key, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return nil, fail(http.StatusUnauthorized, "Bad credentials")
	}
	return &caller{app: found, appID: id}, nil
}

func (c *caller) can(area, level string) bool {
	if c.token == nil {
		return false
	}
	have := map[string]string{"contents": c.token.Contents, "pull_requests": c.token.PullRequests}[area]
	return have == Write || (level == Read && have == Read)
}

func (c *caller) sees(fullName string) bool {
	if c.token == nil {
		return false
	}
	if len(c.token.Repos) == 0 {
		return true
	}
	for _, r := range c.token.Repos {
		if r == fullName {
			return true
		}
	}
	return false
}

func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, req.Method+" "+req.URL.Path)
	for _, f := range s.faults {
		if f.times > 0 && f.method == req.Method && strings.Contains(req.URL.Path, f.contains) {
			f.times--
			for k, v := range f.header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.status)
			io.WriteString(w, f.body)
			return
		}
	}
	out, status, aerr := s.route(req)
	w.Header().Set("Content-Type", "application/json")
	if aerr != nil {
		w.WriteHeader(aerr.status)
		json.NewEncoder(w).Encode(aerr.body)
		return
	}
	if p, ok := out.(paged); ok {
		if p.link != "" {
			w.Header().Set("Link", p.link)
		}
		out = p.body
	}
	w.WriteHeader(status)
	if out != nil {
		json.NewEncoder(w).Encode(out)
	}
}

func (s *Server) route(req *http.Request) (any, int, *apiError) {
	c, aerr := s.authenticate(req)
	if aerr != nil {
		return nil, 0, aerr
	}
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	if len(parts) == 4 && parts[0] == "app" && parts[1] == "installations" && parts[3] == "access_tokens" {
		return s.installationToken(req, c, parts[2])
	}
	if len(parts) == 2 && parts[0] == "app" && parts[1] == "installations" && req.Method == http.MethodGet {
		if c.app == nil {
			return nil, 0, fail(http.StatusUnauthorized, "A JSON web token could not be decoded")
		}
		var all []any
		for _, in := range c.app.installations {
			all = append(all, map[string]any{"id": in.id, "app_id": c.appID, "account": map[string]any{"login": in.account}})
		}
		return page(req, all, func(items []any) any { return items })
	}
	if len(parts) == 2 && parts[0] == "installation" && parts[1] == "repositories" && req.Method == http.MethodGet {
		if c.token == nil || c.token.installation == nil {
			return nil, 0, fail(http.StatusForbidden, "This endpoint is for installation access tokens")
		}
		var all []any
		for _, full := range c.token.Repos {
			if r := s.repos[full]; r != nil {
				all = append(all, map[string]any{"full_name": full, "name": r.name, "owner": map[string]any{"login": r.owner},
					"default_branch": r.defaultBranch, "archived": r.archived, "fork": r.fork, "private": true})
			}
		}
		return page(req, all, func(items []any) any {
			return map[string]any{"total_count": len(all), "repositories": items}
		})
	}
	if len(parts) < 3 || parts[0] != "repos" {
		return nil, 0, fail(http.StatusNotFound, "Not Found")
	}
	full := parts[1] + "/" + parts[2]
	r := s.repos[full]
	if len(parts) == 4 && parts[3] == "installation" && req.Method == http.MethodGet {
		if c.app == nil {
			return nil, 0, fail(http.StatusUnauthorized, "A JSON web token could not be decoded")
		}
		in := c.app.installationOf(full)
		if in == nil || r == nil {
			return nil, 0, fail(http.StatusNotFound, "Not Found")
		}
		return map[string]any{"id": in.id, "app_id": c.appID, "account": map[string]any{"login": in.account}}, http.StatusOK, nil
	}
	if c.token == nil {
		return nil, 0, fail(http.StatusForbidden, "an App's JWT only mints installation tokens")
	}
	if r == nil || !c.sees(full) {
		return nil, 0, fail(http.StatusNotFound, "Not Found")
	}
	rest := parts[3:]
	for _, rt := range repoRoutes {
		args, ok := rt.match(req.Method, rest)
		if !ok {
			continue
		}
		if rt.area != "" && !c.can(rt.area, rt.level) {
			return nil, 0, fail(http.StatusForbidden, "Resource not accessible by integration")
		}
		return rt.serve(s, req, r, c, args)
	}
	return nil, 0, fail(http.StatusNotFound, "Not Found")
}

func commitJSON(c *commit) map[string]any {
	var parents []any
	for _, p := range c.Parents {
		parents = append(parents, map[string]any{"sha": p})
	}
	if parents == nil {
		parents = []any{}
	}
	return map[string]any{"sha": c.SHA, "message": c.Message, "tree": map[string]any{"sha": c.Tree}, "parents": parents,
		"author": map[string]any{"name": c.Author}}
}

func refJSON(ref, sha string) map[string]any {
	return map[string]any{"ref": "refs/" + ref, "object": map[string]any{"type": "commit", "sha": sha}}
}

func (s *Server) getRef(r *repo, ref string) (any, int, *apiError) {
	sha, ok := r.refs[ref]
	if !ok {
		return nil, 0, fail(http.StatusNotFound, "Not Found")
	}
	return refJSON(ref, sha), http.StatusOK, nil
}

func (s *Server) createRef(req *http.Request, r *repo) (any, int, *apiError) {
	var body struct {
		Ref *string `json:"ref"`
		SHA *string `json:"sha"`
	}
	if e := strict(req, &body); e != nil {
		return nil, 0, e
	}
	if body.Ref == nil || body.SHA == nil || !strings.HasPrefix(*body.Ref, "refs/") || strings.Count(*body.Ref, "/") < 2 {
		return nil, 0, validation("ref and sha are required; ref must be fully qualified (refs/heads/...)")
	}
	if r.commits[*body.SHA] == nil {
		return nil, 0, validation("Object does not exist")
	}
	ref := strings.TrimPrefix(*body.Ref, "refs/")
	if _, exists := r.refs[ref]; exists {
		return nil, 0, validation("Reference already exists")
	}
	r.refs[ref] = *body.SHA
	return refJSON(ref, *body.SHA), http.StatusCreated, nil
}

// ancestors is every commit reachable from sha, sha included.
func (r *repo) ancestors(sha string) map[string]bool {
	seen := map[string]bool{}
	stack := []string{sha}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c == "" || seen[c] || r.commits[c] == nil {
			continue
		}
		seen[c] = true
		stack = append(stack, r.commits[c].Parents...)
	}
	return seen
}

func (s *Server) changeRef(req *http.Request, r *repo, ref string) (any, int, *apiError) {
	old, ok := r.refs[ref]
	if !ok {
		return nil, 0, validation("Reference does not exist")
	}
	if req.Method == http.MethodDelete {
		delete(r.refs, ref)
		return nil, http.StatusNoContent, nil
	}
	var body struct {
		SHA   *string `json:"sha"`
		Force *bool   `json:"force"`
	}
	if e := strict(req, &body); e != nil {
		return nil, 0, e
	}
	if body.SHA == nil || r.commits[*body.SHA] == nil {
		return nil, 0, validation("Object does not exist")
	}
	if (body.Force == nil || !*body.Force) && !r.ancestors(*body.SHA)[old] {
		return nil, 0, validation("Update is not a fast forward")
	}
	r.refs[ref] = *body.SHA
	return refJSON(ref, *body.SHA), http.StatusOK, nil
}

func (s *Server) createCommit(req *http.Request, r *repo, c *caller) (any, int, *apiError) {
	var body struct {
		Message   *string         `json:"message"`
		Tree      *string         `json:"tree"`
		Parents   []string        `json:"parents"`
		Author    json.RawMessage `json:"author"`
		Committer json.RawMessage `json:"committer"`
		Signature *string         `json:"signature"`
	}
	if e := strict(req, &body); e != nil {
		return nil, 0, e
	}
	if body.Message == nil || body.Tree == nil {
		return nil, 0, validation("message and tree are required")
	}
	if _, ok := r.trees[*body.Tree]; !ok {
		return nil, 0, validation("Tree SHA does not exist")
	}
	for _, p := range body.Parents {
		if r.commits[p] == nil {
			return nil, 0, validation("Parent SHA does not exist or is not a commit object")
		}
	}
	sha := s.newCommit(r, *body.Tree, *body.Message, c.token.Login, body.Parents...)
	return commitJSON(r.commits[sha]), http.StatusCreated, nil
}

func (s *Server) getTree(req *http.Request, r *repo, sha string) (any, int, *apiError) {
	if _, ok := r.trees[sha]; !ok {
		if c := r.commits[sha]; c != nil {
			sha = c.Tree
		} else {
			return nil, 0, fail(http.StatusNotFound, "Not Found")
		}
	}
	var entries []flatEntry
	recursive := req.URL.Query().Get("recursive") != ""
	if recursive {
		r.flatten(sha, "", &entries)
	} else {
		for _, e := range r.trees[sha] {
			entries = append(entries, flatEntry{e.Name, e.Mode, e.Type, e.SHA})
		}
	}
	list := []any{}
	for _, e := range entries {
		m := map[string]any{"path": e.Path, "mode": e.Mode, "type": e.Type, "sha": e.SHA}
		if e.Type == "blob" {
			m["size"] = len(r.blobs[e.SHA])
		}
		list = append(list, m)
	}
	truncated := false
	if recursive && s.truncate { // a listing too large for one answer
		truncated, list = true, list[:0]
	}
	return map[string]any{"sha": sha, "tree": list, "truncated": truncated}, http.StatusOK, nil
}

func (s *Server) createTree(req *http.Request, r *repo) (any, int, *apiError) {
	type entryIn struct {
		Path    *string `json:"path"`
		Mode    *string `json:"mode"`
		Type    *string `json:"type"`
		SHA     *string `json:"sha"`
		Content *string `json:"content"`
	}
	var body struct {
		BaseTree *string   `json:"base_tree"`
		Tree     []entryIn `json:"tree"`
	}
	if e := strict(req, &body); e != nil {
		return nil, 0, e
	}
	if body.Tree == nil {
		return nil, 0, validation("tree is required")
	}
	base := ""
	if body.BaseTree != nil {
		if _, ok := r.trees[*body.BaseTree]; !ok {
			return nil, 0, validation("base_tree does not exist")
		}
		base = *body.BaseTree
	}
	changes := map[string]*treeEntry{}
	for _, e := range body.Tree {
		if e.Path == nil || e.Mode == nil || e.Type == nil {
			return nil, 0, validation("path, mode and type are required")
		}
		switch *e.Mode {
		case "100644", "100755", "120000", "040000", "160000":
		default:
			return nil, 0, validation("invalid mode " + *e.Mode)
		}
		switch {
		case e.SHA != nil && e.Content != nil:
			return nil, 0, validation("sha and content are exclusive")
		case e.SHA != nil:
			if _, ok := r.blobs[*e.SHA]; !ok && *e.Type == "blob" {
				return nil, 0, validation("tree.sha " + *e.SHA + " is not a valid blob")
			}
			changes[*e.Path] = &treeEntry{Mode: *e.Mode, Type: *e.Type, SHA: *e.SHA}
		case e.Content != nil:
			data := []byte(*e.Content)
			sha := blobSHA(data)
			r.blobs[sha] = data
			changes[*e.Path] = &treeEntry{Mode: *e.Mode, Type: "blob", SHA: sha}
		default:
			changes[*e.Path] = nil
		}
	}
	sha := r.updateTree(base, changes)
	return map[string]any{"sha": sha, "truncated": false, "tree": []any{}}, http.StatusCreated, nil
}

func (s *Server) createBlob(req *http.Request, r *repo) (any, int, *apiError) {
	var body struct {
		Content  *string `json:"content"`
		Encoding *string `json:"encoding"`
	}
	if e := strict(req, &body); e != nil {
		return nil, 0, e
	}
	if body.Content == nil {
		return nil, 0, validation("content is required")
	}
	data := []byte(*body.Content)
	if body.Encoding != nil && *body.Encoding == "base64" {
		var err error
		if data, err = base64.StdEncoding.DecodeString(*body.Content); err != nil {
			return nil, 0, validation("content is not valid base64")
		}
	} else if body.Encoding != nil && *body.Encoding != "utf-8" {
		return nil, 0, validation("encoding must be utf-8 or base64")
	}
	sha := blobSHA(data)
	r.blobs[sha] = data
	return map[string]any{"sha": sha, "url": "https://github.example/blobs/" + sha}, http.StatusCreated, nil
}

func (r *repo) resolve(name string) string {
	if sha, ok := r.refs["heads/"+name]; ok {
		return sha
	}
	if r.commits[name] != nil {
		return name
	}
	return ""
}

func (s *Server) compare(r *repo, basehead string) (any, int, *apiError) {
	b, h, ok := strings.Cut(basehead, "...")
	base, head := r.resolve(b), r.resolve(h)
	if !ok || base == "" || head == "" {
		return nil, 0, fail(http.StatusNotFound, "Not Found")
	}
	ofBase, ofHead := r.ancestors(base), r.ancestors(head)
	// commits on head only, oldest first
	var ahead []*commit
	for sha := range ofHead {
		if !ofBase[sha] {
			ahead = append(ahead, r.commits[sha])
		}
	}
	sort.Slice(ahead, func(i, j int) bool { return r.ancestors(ahead[j].SHA)[ahead[i].SHA] })
	behind := 0
	for sha := range ofBase {
		if !ofHead[sha] {
			behind++
		}
	}
	// the merge base: the newest commit both reach
	mergeBase := ""
	for sha := range ofHead {
		if ofBase[sha] && (mergeBase == "" || r.ancestors(sha)[mergeBase]) {
			mergeBase = sha
		}
	}
	var commits []any
	for _, c := range ahead {
		commits = append(commits, map[string]any{"sha": c.SHA, "commit": map[string]any{"message": c.Message, "author": map[string]any{"name": c.Author}}})
	}
	var files []any
	if mergeBase != "" {
		from, to := r.blobsOf(r.commits[mergeBase].Tree), r.blobsOf(r.commits[head].Tree)
		var paths []string
		for p := range to {
			paths = append(paths, p)
		}
		for p := range from {
			if _, ok := to[p]; !ok {
				paths = append(paths, p)
			}
		}
		sort.Strings(paths)
		for _, p := range paths {
			f, t := from[p], to[p]
			switch {
			case t.SHA == "":
				files = append(files, map[string]any{"filename": p, "status": "removed", "sha": f.SHA})
			case f.SHA == "":
				files = append(files, map[string]any{"filename": p, "status": "added", "sha": t.SHA})
			case f.SHA != t.SHA || f.Mode != t.Mode:
				files = append(files, map[string]any{"filename": p, "status": "modified", "sha": t.SHA})
			}
		}
	}
	status := "identical"
	switch {
	case len(ahead) > 0 && behind > 0:
		status = "diverged"
	case len(ahead) > 0:
		status = "ahead"
	case behind > 0:
		status = "behind"
	}
	if commits == nil {
		commits = []any{}
	}
	if files == nil {
		files = []any{}
	}
	return map[string]any{"status": status, "ahead_by": len(ahead), "behind_by": behind, "total_commits": len(ahead),
		"merge_base_commit": map[string]any{"sha": mergeBase}, "commits": commits, "files": files}, http.StatusOK, nil
}

func pullJSON(r *repo, p *pull) map[string]any {
	labels := []any{}
	for _, l := range p.Labels {
		labels = append(labels, map[string]any{"name": l})
	}
	reviewers := []any{}
	for _, l := range p.Reviewers {
		reviewers = append(reviewers, map[string]any{"login": l})
	}
	return map[string]any{"number": p.Number, "title": p.Title, "body": p.Body, "state": p.State, "draft": p.Draft,
		"html_url":   fmt.Sprintf("https://github.example/%s/%s/pull/%d", r.owner, r.name, p.Number),
		"head":       map[string]any{"ref": p.Head, "sha": r.refs["heads/"+p.Head], "label": r.owner + ":" + p.Head},
		"created_at": p.Created.Format(time.RFC3339),
		"base":       map[string]any{"ref": p.Base}, "user": map[string]any{"login": p.User}, "labels": labels, "requested_reviewers": reviewers}
}

func (s *Server) listPulls(req *http.Request, r *repo) (any, int, *apiError) {
	q := req.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	out := []any{}
	for _, p := range r.pulls {
		if (state != "all" && p.State != state) || (q.Get("base") != "" && q.Get("base") != p.Base) ||
			(q.Get("head") != "" && q.Get("head") != r.owner+":"+p.Head) {
			continue
		}
		out = append(out, pullJSON(r, p))
	}
	return out, http.StatusOK, nil
}

func (s *Server) pullNumber(r *repo, num string) (*pull, *apiError) {
	n, err := strconv.Atoi(num)
	if err != nil {
		return nil, fail(http.StatusNotFound, "Not Found")
	}
	for _, p := range r.pulls {
		if p.Number == n {
			return p, nil
		}
	}
	return nil, fail(http.StatusNotFound, "Not Found")
}

func (s *Server) createPull(req *http.Request, r *repo, c *caller) (any, int, *apiError) {
	var body struct {
		Title               *string `json:"title"`
		Head                *string `json:"head"`
		HeadRepo            *string `json:"head_repo"`
		Base                *string `json:"base"`
		Body                *string `json:"body"`
		Issue               *int    `json:"issue"`
		MaintainerCanModify *bool   `json:"maintainer_can_modify"`
		Draft               *bool   `json:"draft"`
	}
	if e := strict(req, &body); e != nil {
		return nil, 0, e
	}
	if body.Title == nil || body.Head == nil || body.Base == nil {
		return nil, 0, validation("title, head and base are required")
	}
	head := strings.TrimPrefix(*body.Head, r.owner+":")
	if _, ok := r.refs["heads/"+head]; !ok {
		return nil, 0, validation("head: invalid")
	}
	if _, ok := r.refs["heads/"+*body.Base]; !ok {
		return nil, 0, validation("base: invalid")
	}
	for _, p := range r.pulls {
		if p.State == "open" && p.Head == head && p.Base == *body.Base {
			return nil, 0, validation(fmt.Sprintf("A pull request already exists for %s:%s.", r.owner, head))
		}
	}
	ahead := 0
	ofBase := r.ancestors(r.refs["heads/"+*body.Base])
	for sha := range r.ancestors(r.refs["heads/"+head]) {
		if !ofBase[sha] {
			ahead++
		}
	}
	if ahead == 0 {
		return nil, 0, validation(fmt.Sprintf("No commits between %s and %s", *body.Base, head))
	}
	p := &pull{Number: r.next, Title: *body.Title, Head: head, Base: *body.Base, State: "open", User: c.token.Login, Created: time.Now().UTC().Truncate(time.Second)}
	r.next++
	if body.Body != nil {
		p.Body = *body.Body
	}
	if len(p.Body) > 65536 {
		return nil, 0, validation("body is too long (maximum is 65536 characters)")
	}
	if body.Draft != nil {
		p.Draft = *body.Draft
	}
	r.pulls = append(r.pulls, p)
	return pullJSON(r, p), http.StatusCreated, nil
}

func (s *Server) editPull(req *http.Request, r *repo, num string) (any, int, *apiError) {
	p, e := s.pullNumber(r, num)
	if e != nil {
		return nil, 0, e
	}
	var body struct {
		Title               *string `json:"title"`
		Body                *string `json:"body"`
		State               *string `json:"state"`
		Base                *string `json:"base"`
		MaintainerCanModify *bool   `json:"maintainer_can_modify"`
	}
	if e := strict(req, &body); e != nil {
		return nil, 0, e
	}
	if body.Body != nil && len(*body.Body) > 65536 {
		return nil, 0, validation("body is too long (maximum is 65536 characters)")
	}
	if body.State != nil && *body.State != "open" && *body.State != "closed" {
		return nil, 0, validation("state must be open or closed")
	}
	if body.Title != nil {
		p.Title = *body.Title
	}
	if body.Body != nil {
		p.Body = *body.Body
	}
	if body.State != nil {
		p.State = *body.State
	}
	return pullJSON(r, p), http.StatusOK, nil
}

func (s *Server) requestReviewers(req *http.Request, r *repo, num string) (any, int, *apiError) {
	p, e := s.pullNumber(r, num)
	if e != nil {
		return nil, 0, e
	}
	var body struct {
		NodeID        *string  `json:"node_id"`
		Reviewers     []string `json:"reviewers"`
		TeamReviewers []string `json:"team_reviewers"`
	}
	if e := strict(req, &body); e != nil {
		return nil, 0, e
	}
	for _, u := range body.Reviewers {
		if u == p.User {
			return nil, 0, validation("Review cannot be requested from pull request author.")
		}
	}
	p.Reviewers = append(p.Reviewers, body.Reviewers...)
	p.Teams = append(p.Teams, body.TeamReviewers...)
	return pullJSON(r, p), http.StatusCreated, nil
}

func (s *Server) comment(req *http.Request, r *repo, num string, c *caller) (any, int, *apiError) {
	p, e := s.pullNumber(r, num)
	if e != nil {
		return nil, 0, e
	}
	var body struct {
		Body *string `json:"body"`
	}
	if e := strict(req, &body); e != nil {
		return nil, 0, e
	}
	if body.Body == nil || *body.Body == "" {
		return nil, 0, validation("body is required")
	}
	r.comments[p.Number] = append(r.comments[p.Number], *body.Body)
	r.commentAuthors[p.Number] = append(r.commentAuthors[p.Number], c.token.Login)
	return map[string]any{"id": p.Number*1000 + len(r.comments[p.Number]), "body": *body.Body}, http.StatusCreated, nil
}

func (s *Server) addLabels(req *http.Request, r *repo, num string) (any, int, *apiError) {
	p, e := s.pullNumber(r, num)
	if e != nil {
		return nil, 0, e
	}
	raw, _ := io.ReadAll(req.Body)
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		var obj struct {
			Labels []string `json:"labels"`
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&obj); err != nil {
			return nil, 0, validation("labels must be an array of names")
		}
		names = obj.Labels
	}
	for _, n := range names {
		if r.labels[n] == nil { // GitHub creates a missing label, gray
			r.labels[n] = &label{Name: n, Color: "ededed"}
		}
		has := false
		for _, l := range p.Labels {
			has = has || l == n
		}
		if !has {
			p.Labels = append(p.Labels, n)
		}
	}
	out := []any{}
	for _, l := range p.Labels {
		out = append(out, map[string]any{"name": l})
	}
	return out, http.StatusOK, nil
}

func (s *Server) createLabel(req *http.Request, r *repo) (any, int, *apiError) {
	var body struct {
		Name        *string `json:"name"`
		Color       *string `json:"color"`
		Description *string `json:"description"`
	}
	if e := strict(req, &body); e != nil {
		return nil, 0, e
	}
	if body.Name == nil || *body.Name == "" {
		return nil, 0, validation("name is required")
	}
	if r.labels[*body.Name] != nil {
		return nil, 0, &apiError{http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
			"errors": []any{map[string]any{"resource": "Label", "code": "already_exists", "field": "name"}}}}
	}
	l := &label{Name: *body.Name, Color: "ededed"}
	if body.Color != nil {
		l.Color = *body.Color
	}
	if body.Description != nil {
		l.Description = *body.Description
	}
	r.labels[l.Name] = l
	return map[string]any{"name": l.Name, "color": l.Color, "description": l.Description}, http.StatusCreated, nil
}

func (s *Server) installationToken(req *http.Request, c *caller, id string) (any, int, *apiError) {
	if req.Method != http.MethodPost {
		return nil, 0, fail(http.StatusNotFound, "Not Found")
	}
	if c.app == nil {
		return nil, 0, fail(http.StatusUnauthorized, "A JSON web token could not be decoded")
	}
	var in *installation
	for _, x := range c.app.installations {
		if strconv.FormatInt(x.id, 10) == id {
			in = x
		}
	}
	if in == nil {
		return nil, 0, fail(http.StatusNotFound, "Not Found")
	}
	var body struct {
		Repositories  []string          `json:"repositories"`
		RepositoryIDs []int64           `json:"repository_ids"`
		Permissions   map[string]string `json:"permissions"`
	}
	if req.ContentLength != 0 {
		if e := strict(req, &body); e != nil {
			return nil, 0, e
		}
	}
	repos := in.repos
	if len(body.Repositories) > 0 {
		repos = nil
		for _, name := range body.Repositories {
			full := in.account + "/" + name
			if c.app.installationOf(full) != in {
				return nil, 0, fail(http.StatusUnprocessableEntity, "There is at least one repository that does not exist or is not accessible to the parent installation.")
			}
			repos = append(repos, full)
		}
	}
	s.seq++
	token := fmt.Sprintf("ghs_installation%d", s.seq)
	t := c.app.perms
	t.Repos = repos
	t.Login = "pinbot-app[bot]"
	t.installation = in
	s.tokens[token] = &t
	return map[string]any{"token": token, "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, http.StatusCreated, nil
}

// repoRoute is one endpoint under /repos/OWNER/NAME/, and the permission a
// token needs for it.
type repoRoute struct {
	method  string
	pattern string // segments: a literal, "*" for one, "**" for the rest (one at least)
	area    string // "contents" or "pull_requests"; "" for none
	level   string
	serve   func(s *Server, req *http.Request, r *repo, c *caller, args []string) (any, int, *apiError)
}

// match tells whether a request for rest (the path's segments under the
// repository) is the route's, and what its wildcards stand for.
func (rt repoRoute) match(method string, rest []string) ([]string, bool) {
	if method != rt.method {
		return nil, false
	}
	var segs, args []string
	if rt.pattern != "" {
		segs = strings.Split(rt.pattern, "/")
	}
	for i, seg := range segs {
		switch {
		case seg == "**" && i < len(rest):
			return append(args, strings.Join(rest[i:], "/")), true
		case i >= len(rest):
			return nil, false
		case seg == "*":
			args = append(args, rest[i])
		case seg != rest[i]:
			return nil, false
		}
	}
	return args, len(rest) == len(segs)
}

var repoRoutes = []repoRoute{
	{http.MethodGet, "", "contents", Read, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		full := r.owner + "/" + r.name
		return map[string]any{"name": r.name, "full_name": full, "default_branch": r.defaultBranch,
			"owner": map[string]any{"login": r.owner}, "html_url": "https://github.example/" + full}, http.StatusOK, nil
	}},
	{http.MethodGet, "git/ref/**", "contents", Read, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		return s.getRef(r, a[0])
	}},
	{http.MethodPost, "git/refs", "contents", Write, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		return s.createRef(req, r)
	}},
	{http.MethodPatch, "git/refs/**", "contents", Write, changeRef},
	{http.MethodDelete, "git/refs/**", "contents", Write, changeRef},
	{http.MethodGet, "git/commits/*", "contents", Read, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		cm := r.commits[a[0]]
		if cm == nil {
			return nil, 0, fail(http.StatusNotFound, "Not Found")
		}
		return commitJSON(cm), http.StatusOK, nil
	}},
	{http.MethodPost, "git/commits", "contents", Write, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		return s.createCommit(req, r, c)
	}},
	{http.MethodGet, "git/trees/*", "contents", Read, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		return s.getTree(req, r, a[0])
	}},
	{http.MethodPost, "git/trees", "contents", Write, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		return s.createTree(req, r)
	}},
	{http.MethodPost, "git/blobs", "contents", Write, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		return s.createBlob(req, r)
	}},
	{http.MethodGet, "compare/**", "contents", Read, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		return s.compare(r, a[0])
	}},
	{http.MethodGet, "pulls", "pull_requests", Read, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		return s.listPulls(req, r)
	}},
	{http.MethodPost, "pulls", "pull_requests", Write, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		return s.createPull(req, r, c)
	}},
	{http.MethodPatch, "pulls/*", "pull_requests", Write, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		return s.editPull(req, r, a[0])
	}},
	{http.MethodPost, "pulls/*/requested_reviewers", "pull_requests", Write, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		return s.requestReviewers(req, r, a[0])
	}},
	{http.MethodGet, "issues/*/comments", "pull_requests", Read, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		n, _ := strconv.Atoi(a[0])
		out := []any{}
		for i, b := range r.comments[n] {
			out = append(out, map[string]any{"id": n*1000 + i, "body": b, "user": map[string]any{"login": r.commentAuthors[n][i]}})
		}
		return out, http.StatusOK, nil
	}},
	{http.MethodPost, "issues/*/comments", "pull_requests", Write, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		return s.comment(req, r, a[0], c)
	}},
	{http.MethodPost, "issues/*/labels", "pull_requests", Write, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		return s.addLabels(req, r, a[0])
	}},
	{http.MethodGet, "labels/*", "", "", func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		l := r.labels[a[0]]
		if l == nil {
			return nil, 0, fail(http.StatusNotFound, "Not Found")
		}
		return map[string]any{"name": l.Name, "color": l.Color, "description": l.Description}, http.StatusOK, nil
	}},
	{http.MethodPost, "labels", "pull_requests", Write, func(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
		return s.createLabel(req, r)
	}},
}

func changeRef(s *Server, req *http.Request, r *repo, c *caller, a []string) (any, int, *apiError) {
	return s.changeRef(req, r, a[0])
}
