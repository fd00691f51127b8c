package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/pinbot/pinbot/internal/forge"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/spf13/cobra"
)

// exitForge is the exit status when the pull request could not be opened,
// updated or closed (API error, missing permission, someone else's commits
// on the branch, a stale checkout).
const exitForge = 4

type prFlags struct {
	repo, base, branch, title string
	labels, reviewers         []string
	draft, dryRun             bool
	tokenFile                 string
	app                       appFlags // an App instead of a token, and the API's URL
	output                    string
}

func newPRCmd(g *globals) *cobra.Command {
	f := &pinFlags{g: g}
	o := &prFlags{}
	f.apiURL = func() string { return o.app.api() }
	cmd := &cobra.Command{
		Use:   "pr [PATH...]",
		Short: "Pin, then open or update one pull request with the change",
		Long: `pr does everything "pinbot pin" does (same flags, configuration and exit
statuses), but instead of writing the files it publishes the change as one
pull request on GitHub, kept current run after run; the checkout is left as
it is:

  - The change is one commit on top of the base branch's head, made through
    the Git Data API (no git binary or push credentials needed; commits made
    with a GitHub App's token show as verified), on the branch --branch,
    created or force-updated. Only the files whose bytes changed are in it,
    with their modes kept.
  - An open pull request from that branch is updated (title, body, commit);
    none is opened twice. When nothing is left to change, the open pull
    request is closed with a comment and its branch deleted.
  - If the branch holds commits pinbot did not make, it is left alone: pinbot
    says why on the pull request and exits 4.
  - The checkout must be the base branch's head: a changed file whose original
    bytes differ from the base's is an error (exit 4), never a revert.

Authentication: GITHUB_TOKEN (or --token-file), through golang.org/x/oauth2;
or a GitHub App (--app-id, --app-private-key), whose installation on the
repository mints a token. The token needs "contents: write" and
"pull-requests: write". Tokens are never printed.

Exit status: as "pin" (0, 2, 3), and 4 when the pull request could not be
opened, updated or closed.`,
		Example: `  # in a scheduled workflow (GITHUB_TOKEN and GITHUB_REPOSITORY are set)
  pinbot pr --label dependencies

  # by hand: see what would be sent, write nothing
  GITHUB_TOKEN=$(gh auth token) pinbot pr --dry-run --repo acme/shop

  # offline: no token, no GitHub API called
  pinbot pr --dry-run --repo acme/shop --base main`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(o.output); err != nil {
				return err
			}
			if o.branch == "" {
				return usageError("--branch must not be empty")
			}
			f.output, f.forPR = o.output, true
			s, err := f.open(cmd, args)
			if err != nil {
				return err
			}
			defer s.co.Close()
			repo, err := o.repository(s)
			if err != nil {
				return err
			}
			apiURL := o.app.api()
			ctx := cmd.Context()
			// A dry run that knows its base needs no GitHub at all: it shows
			// what would be sent, and says what it did not check.
			preview := o.dryRun && o.base != ""
			var fg forge.Forge // nil for a preview
			if !preview {
				hc, err := o.httpClient(cmd, repo, apiURL)
				if err != nil {
					return err
				}
				gh, err := forge.NewGitHub(forge.GitHubOptions{HTTPClient: hc, APIURL: apiURL, Logger: g.logger(cmd.ErrOrStderr())})
				if err != nil {
					return usageError("%v", err)
				}
				fg = gh
			}

			if s.opts.MinAge > 0 && fg != nil {
				// the first sightings the pull request keeps
				body, opened, err := fg.OpenBody(ctx, repo, o.branch)
				if err != nil {
					return &exitError{code: exitForge, err: err}
				}
				// with a cache's too: the earlier sighting of each counts
				for k, t := range report.ParseFirstSeen(body, opened) {
					if was, ok := s.opts.FirstSeen[k]; !ok || t.Before(was) {
						if s.opts.FirstSeen == nil {
							s.opts.FirstSeen = map[string]time.Time{}
						}
						s.opts.FirstSeen[k] = t
					}
				}
			}
			res, err := s.run(cmd)
			if err != nil {
				return err
			}
			s.saveCache(g.logger(cmd.ErrOrStderr()), res.Report)
			rep := res.Report
			rep.Version = buildVersion().Version
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			req := forge.Request{
				Repo: repo, Base: o.base, Branch: o.branch, Title: o.title, Body: rep.Body(buildVersion().Version),
				CommitMessage: rep.CommitMessage(), Labels: o.labels, Reviewers: o.reviewers, Draft: o.draft,
				CurrentComment: report.CurrentComment, DryRun: o.dryRun, KeepOpen: rep.Failed() || rep.Counts()[report.Held] > 0,
			}
			if req.Title == "" {
				req.Title = rep.Title()
			}
			for _, c := range res.Changes {
				req.Files = append(req.Files, forge.File{Path: c.Path, Old: c.Old, New: c.New, Mode: c.Mode})
			}
			if preview {
				report.WriteProblems(stderr, rep)
				if err := writeReport(stdout, rep, "text", false, g.verbose); err != nil {
					return err
				}
				writePreview(stdout, repo, req)
				return outcome(rep, false)
			}
			result, perr := fg.Publish(ctx, req)
			if result != nil {
				rep.PullRequest = &report.PullRequest{Action: string(result.Action), Number: result.Number, URL: result.URL,
					Branch: result.Branch, Base: result.Base, DryRun: result.DryRun}
			}
			report.WriteProblems(stderr, rep) // first: the summary is the last line
			if o.output == "text" || o.output == "github" {
				err = writeReport(stdout, rep, "text", false, g.verbose)
				if err == nil && result != nil {
					writeOutcome(stdout, result, req)
				}
				if err == nil && o.output == "github" {
					err = githubExtras(stdout, rep, false)
				}
			} else {
				err = writeReport(stdout, rep, o.output, false, g.verbose)
			}
			if err != nil {
				return err
			}
			if perr != nil {
				return &exitError{code: exitForge, err: perr}
			}
			return outcome(rep, false)
		},
	}
	f.register(cmd.Flags())
	fl := cmd.Flags()
	fl.StringVar(&o.repo, "repo", "", "the repository, `OWNER/NAME` (default: $GITHUB_REPOSITORY, else the origin remote)")
	fl.StringVar(&o.base, "base", "", "the `BRANCH` the pull request targets (default: the repository's default branch)")
	fl.StringVar(&o.branch, "branch", "pinbot/digests", "the `BRANCH` pinbot owns and force-updates")
	fl.StringVar(&o.title, "title", "", "the pull request's `TITLE` (default: says what changed)")
	fl.StringArrayVar(&o.labels, "label", nil, "label the pull request with `NAME`, creating the label if missing (repeatable)")
	fl.StringArrayVar(&o.reviewers, "reviewer", nil, "ask `USER` or ORG/TEAM to review a new pull request (repeatable)")
	fl.BoolVar(&o.draft, "draft", false, "open the pull request as a draft")
	fl.BoolVar(&o.dryRun, "dry-run", false, "print the branch, commit message, title and body that would be sent; call no GitHub API that writes")
	fl.StringVar(&o.tokenFile, "token-file", "", "read the token from `FILE` instead of $GITHUB_TOKEN")
	o.app.register(cmd)
	fl.StringVarP(&o.output, "output", "o", "text", "report `FORMAT`: text, json (with the pull request), sarif or github (annotations, job summary, step outputs)")
	return cmd
}

// repository is --repo, else $GITHUB_REPOSITORY, else the origin remote.
func (o *prFlags) repository(s *session) (forge.Repo, error) {
	if o.repo != "" {
		r, err := forge.ParseRepo(o.repo)
		if err != nil {
			return forge.Repo{}, usageError("--repo: %v", err)
		}
		return r, nil
	}
	if env := os.Getenv("GITHUB_REPOSITORY"); env != "" {
		r, err := forge.ParseRepo(env)
		if err != nil {
			return forge.Repo{}, usageError("GITHUB_REPOSITORY: %v", err)
		}
		return r, nil
	}
	u, err := s.co.RemoteURL("origin")
	if err != nil {
		return forge.Repo{}, usageError("no repository: pass --repo OWNER/NAME (%v)", err)
	}
	r, _, err := forge.RepoFromRemote(u)
	if err != nil {
		return forge.Repo{}, usageError("no repository: pass --repo OWNER/NAME (%v)", err)
	}
	return r, nil
}

// httpClient carries the credentials: an App installation token, the token
// file, or GITHUB_TOKEN. A dry run may go without.
func (o *prFlags) httpClient(cmd *cobra.Command, repo forge.Repo, apiURL string) (*http.Client, error) {
	ctx := cmd.Context()
	var token string
	switch {
	case o.app.given(): // as the installation of the App on the repository
		app, _, err := o.app.app()
		if err != nil {
			return nil, err
		}
		token, err = app.InstallationToken(ctx, apiURL, repo)
		if err != nil {
			return nil, &exitError{code: exitForge, err: err}
		}
	case o.tokenFile != "":
		data, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return nil, usageError("--token-file: %v", err)
		}
		token = strings.TrimSpace(string(data))
	default:
		token = os.Getenv("GITHUB_TOKEN")
	}
	if token == "" {
		if o.dryRun {
			return &http.Client{Timeout: forge.RequestTimeout}, nil
		}
		return nil, usageError("no GitHub token: set GITHUB_TOKEN, or pass --token-file or --app-id with --app-private-key")
	}
	return forge.TokenClient(ctx, token, apiURL), nil
}

// writePreview is a dry run's account of what it would send, made without
// GitHub.
func writePreview(w io.Writer, repo forge.Repo, req forge.Request) {
	if len(req.Files) == 0 {
		fmt.Fprintf(w, "dry run (no GitHub API called): nothing to change in %s; an open pull request from %s would be closed\n", repo, req.Branch)
		return
	}
	fmt.Fprintf(w, "dry run (no GitHub API called): would open or update the pull request from %s to %s in %s\n", req.Branch, req.Base, repo)
	fmt.Fprintf(w, "\nbranch: %s\ntitle: %s\n\ncommit message:\n%s\n%s\n\nbody:\n%s", req.Branch, req.Title, req.CommitMessage, forge.Trailer, req.Body)
	fmt.Fprintf(w, "\nnot checked, as no GitHub API was called: that %s and its base %s exist, whether a pull request from %s is open already, whether %s holds commits pinbot did not make, and what the token may do\n",
		repo, req.Base, req.Branch, req.Branch)
}

func writeOutcome(w io.Writer, r *forge.Result, req forge.Request) {
	num := fmt.Sprintf("#%d", r.Number)
	if r.DryRun {
		fmt.Fprintf(w, "dry run: would %s\n", map[forge.Action]string{
			forge.Opened:    "open a pull request from " + r.Branch + " to " + r.Base,
			forge.Updated:   "update pull request " + num + " (" + r.Branch + " -> " + r.Base + ")",
			forge.Unchanged: "leave pull request " + num + " as it is",
			forge.Closed:    "close pull request " + num + " and delete " + r.Branch,
			forge.Nothing:   "do nothing: no change and no pull request",
		}[r.Action])
		if len(req.Files) > 0 {
			fmt.Fprintf(w, "\nbranch: %s\ntitle: %s\n\ncommit message:\n%s\n%s\n\nbody:\n%s", r.Branch, req.Title, req.CommitMessage, forge.Trailer, req.Body)
		}
		return
	}
	switch r.Action {
	case forge.Opened:
		fmt.Fprintf(w, "opened pull request %s: %s\n", num, r.URL)
	case forge.Updated:
		fmt.Fprintf(w, "updated pull request %s: %s\n", num, r.URL)
	case forge.Unchanged:
		if len(req.Files) == 0 {
			fmt.Fprintf(w, "pull request %s left open: some references could not be resolved, so the pins are not known to be current: %s\n", num, r.URL)
			return
		}
		fmt.Fprintf(w, "pull request %s already carries this change: %s\n", num, r.URL)
	case forge.Closed:
		fmt.Fprintf(w, "closed pull request %s: every pin is current\n", num)
	case forge.Nothing:
		fmt.Fprintln(w, "nothing to change, no pull request open")
	}
}
