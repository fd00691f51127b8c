package forge

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-github/v60/github"
	"golang.org/x/oauth2"
)

// RequestTimeout bounds each API request.
const RequestTimeout = 2 * time.Minute

// TokenClient is an HTTP client that authenticates to the API at apiURL
// ("": DefaultAPIURL) with token. The token goes to the API's own scheme
// and host alone: a request anywhere else (a redirect to another host) is
// sent without it, and without any Authorization header.
func TokenClient(ctx context.Context, token, apiURL string) *http.Client {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	base := http.DefaultTransport
	if hc, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && hc.Transport != nil {
		base = hc.Transport
	}
	t := &apiOnly{plain: base, authed: &oauth2.Transport{
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"}),
		Base:   base,
	}}
	if u, err := url.Parse(apiURL); err == nil {
		t.scheme, t.host = u.Scheme, u.Host
	}
	return &http.Client{Timeout: RequestTimeout, Transport: t}
}

// apiOnly sends a request with credentials (authed) only to the API's own
// scheme and host; every other request goes out bare (plain).
type apiOnly struct {
	scheme, host  string
	authed, plain http.RoundTripper
}

func (t *apiOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.host != "" && req.URL.Scheme == t.scheme && strings.EqualFold(req.URL.Host, t.host) {
		return t.authed.RoundTrip(req)
	}
	if req.Header.Get("Authorization") != "" {
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
	}
	return t.plain.RoundTrip(req)
}

// App is a GitHub App's identity.
type App struct {
	ID         int64
	PrivateKey []byte // PEM, as GitHub hands it out
}

// jwt is the short-lived token that authenticates as the App itself.
func (a App) jwt(now time.Time) (string, error) {
	key, err := jwt.ParseRSAPrivateKeyFromPEM(a.PrivateKey)
	if err != nil {
		return "", fmt.Errorf("App private key: %w", err)
	}
	claims := jwt.RegisteredClaims{
		Issuer:    strconv.FormatInt(a.ID, 10),
		IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)), // clock drift
		ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
}

// InstallationToken mints an installation access token for the App's
// installation on repo, limited to that repository.
func (a App) InstallationToken(ctx context.Context, apiURL string, repo Repo) (string, error) {
	signed, err := a.jwt(time.Now())
	if err != nil {
		return "", err
	}
	g, err := NewGitHub(GitHubOptions{HTTPClient: TokenClient(ctx, signed, apiURL), APIURL: apiURL})
	if err != nil {
		return "", err
	}
	var inst *github.Installation
	err = g.call(ctx, "find the App's installation on "+repo.String(), "App installed on the repository", func() (r *github.Response, err error) {
		inst, r, err = g.c.Apps.FindRepositoryInstallation(ctx, repo.Owner, repo.Name)
		return
	})
	if notFound(err) {
		return "", fmt.Errorf("App %d is not installed on %s: %w", a.ID, repo, err)
	}
	if err != nil {
		return "", err
	}
	var tok *github.InstallationToken
	err = g.call(ctx, "mint an installation token", "App installed on the repository", func() (r *github.Response, err error) {
		tok, r, err = g.c.Apps.CreateInstallationToken(ctx, inst.GetID(), &github.InstallationTokenOptions{Repositories: []string{repo.Name}})
		return
	})
	if err != nil {
		return "", err
	}
	return tok.GetToken(), nil
}

// Repository is a repository an App's installation can reach.
type Repository struct {
	FullName      string `json:"repository"`
	Owner         string `json:"owner"`
	Name          string `json:"name"`
	DefaultBranch string `json:"defaultBranch"`
	Archived      bool   `json:"archived,omitempty"`
	Fork          bool   `json:"fork,omitempty"`
	Private       bool   `json:"private,omitempty"`
	Installation  int64  `json:"installation"`
}

// Repositories lists every repository the App's installations can reach:
// each installation (one per account), then, with a token of that
// installation, each of its repositories, every page.
func (a App) Repositories(ctx context.Context, apiURL string) ([]Repository, error) {
	signed, err := a.jwt(time.Now())
	if err != nil {
		return nil, err
	}
	g, err := NewGitHub(GitHubOptions{HTTPClient: TokenClient(ctx, signed, apiURL), APIURL: apiURL})
	if err != nil {
		return nil, err
	}
	var installs []*github.Installation
	err = g.pages(ctx, "list the App's installations", "the App's own key", func(opts *github.ListOptions) (*github.Response, error) {
		page, r, err := g.c.Apps.ListInstallations(ctx, opts)
		if err == nil {
			installs = append(installs, page...)
		}
		return r, err
	})
	if err != nil {
		return nil, err
	}
	var out []Repository
	for _, in := range installs {
		var tok *github.InstallationToken
		err := g.call(ctx, "mint an installation token", "App installed on the account", func() (r *github.Response, err error) {
			tok, r, err = g.c.Apps.CreateInstallationToken(ctx, in.GetID(), nil)
			return
		})
		if err != nil {
			return nil, fmt.Errorf("installation %d (%s): %w", in.GetID(), in.GetAccount().GetLogin(), err)
		}
		ig, err := NewGitHub(GitHubOptions{HTTPClient: TokenClient(ctx, tok.GetToken(), apiURL), APIURL: apiURL})
		if err != nil {
			return nil, err
		}
		err = ig.pages(ctx, "list the installation's repositories", "App installed on the account", func(opts *github.ListOptions) (*github.Response, error) {
			list, r, err := ig.c.Apps.ListRepos(ctx, opts)
			if err != nil || list == nil {
				return r, err
			}
			for _, r := range list.Repositories {
				out = append(out, Repository{
					FullName: r.GetFullName(), Owner: r.GetOwner().GetLogin(), Name: r.GetName(), DefaultBranch: r.GetDefaultBranch(),
					Archived: r.GetArchived(), Fork: r.GetFork(), Private: r.GetPrivate(), Installation: in.GetID(),
				})
			}
			return r, err
		})
		if err != nil {
			return nil, fmt.Errorf("installation %d (%s): %w", in.GetID(), in.GetAccount().GetLogin(), err)
		}
	}
	return out, nil
}

// pages makes a listing call (through call, with its retries and error
// wording) for every page, 100 items each, until the last.
func (g *GitHub) pages(ctx context.Context, what, needs string, page func(opts *github.ListOptions) (*github.Response, error)) error {
	opts := &github.ListOptions{PerPage: 100}
	for {
		var resp *github.Response
		err := g.call(ctx, what, needs, func() (r *github.Response, err error) {
			resp, err = page(opts)
			return resp, err
		})
		if err != nil {
			return err
		}
		if resp == nil || resp.NextPage == 0 {
			return nil
		}
		opts.Page = resp.NextPage
	}
}
