package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/pinbot/pinbot/internal/forge"
	"github.com/spf13/cobra"
)

// appFlags authenticate as a GitHub App: --app-id and --app-private-key
// (a PEM file), or PINBOT_APP_ID and PINBOT_APP_PRIVATE_KEY (the PEM
// itself, as a workflow's secret holds it).
type appFlags struct {
	id     int64
	key    string
	apiURL string
}

func (a *appFlags) register(cmd *cobra.Command) {
	cmd.Flags().Int64Var(&a.id, "app-id", 0, "the GitHub App's `ID` (default: $PINBOT_APP_ID)")
	cmd.Flags().StringVar(&a.key, "app-private-key", "", "the App's private key, a PEM `FILE` (default: the PEM in $PINBOT_APP_PRIVATE_KEY)")
	cmd.Flags().StringVar(&a.apiURL, "api-url", "", "GitHub's REST API `URL` (default: $GITHUB_API_URL, else https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3)")
}

// given tells whether an App is named at all: by a flag or the environment.
func (a *appFlags) given() bool {
	return a.id != 0 || a.key != "" || os.Getenv("PINBOT_APP_ID") != "" || os.Getenv("PINBOT_APP_PRIVATE_KEY") != ""
}

// api is --api-url, else $GITHUB_API_URL ("" for github.com's).
func (a *appFlags) api() string {
	if a.apiURL != "" {
		return a.apiURL
	}
	return os.Getenv("GITHUB_API_URL")
}

func (a *appFlags) app() (forge.App, string, error) {
	id, pem := a.id, []byte(nil)
	if id == 0 {
		if s := os.Getenv("PINBOT_APP_ID"); s != "" {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return forge.App{}, "", usageError("PINBOT_APP_ID: %q is not an App id", s)
			}
			id = n
		}
	}
	switch {
	case a.key != "":
		data, err := os.ReadFile(a.key)
		if err != nil {
			return forge.App{}, "", usageError("--app-private-key: %v", err)
		}
		pem = data
	default:
		pem = []byte(os.Getenv("PINBOT_APP_PRIVATE_KEY"))
	}
	if id == 0 || len(pem) == 0 {
		return forge.App{}, "", usageError("a GitHub App is needed: --app-id and --app-private-key (or PINBOT_APP_ID and PINBOT_APP_PRIVATE_KEY)")
	}
	return forge.App{ID: id, PrivateKey: pem}, a.api(), nil
}

// maxMatrix is GitHub Actions' limit of jobs one matrix may make.
const maxMatrix = 256

func newReposCmd() *cobra.Command {
	var a appFlags
	var owners, matches []string
	var archived, forks, list bool
	var maxJobs int
	cmd := &cobra.Command{
		Use:   "repos",
		Short: "List the repositories a GitHub App can reach, as a workflow matrix",
		Long: `Repos lists the repositories every installation of a GitHub App can reach,
for a workflow that runs pinbot across an organisation: by default as a matrix
for fromJSON(), {"include": [{"batch": 1, "repositories": "acme/api acme/web"},
...]}, one entry a job, at most --max-jobs entries (GitHub allows 256 jobs a
matrix): with more repositories than that, each job takes several.

Archived repositories and forks are left out unless asked for.`,
		Example: `  pinbot repos --app-id 12345 --app-private-key app.pem --owner acme \
    --match 'acme/svc-*'
  pinbot repos --list          # one JSON object per repository`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if maxJobs < 1 || maxJobs > maxMatrix {
				return usageError("--max-jobs must be between 1 and %d", maxMatrix)
			}
			for _, m := range matches {
				if _, err := path.Match(m, ""); err != nil {
					return usageError("--match %q: %v", m, err)
				}
			}
			app, api, err := a.app()
			if err != nil {
				return err
			}
			all, err := app.Repositories(cmd.Context(), api)
			if err != nil {
				return &exitError{code: exitForge, err: err}
			}
			repos := filterRepos(all, owners, matches, archived, forks)
			enc := json.NewEncoder(cmd.OutOrStdout())
			if list {
				if repos == nil {
					repos = []forge.Repository{}
				}
				enc.SetIndent("", "  ")
				return enc.Encode(repos)
			}
			return enc.Encode(matrix(repos, maxJobs))
		},
	}
	a.register(cmd)
	cmd.Flags().StringArrayVar(&owners, "owner", nil, "only repositories of the `ACCOUNT` (repeatable)")
	cmd.Flags().StringArrayVar(&matches, "match", nil, "only repositories whose OWNER/NAME matches this `GLOB` (repeatable)")
	cmd.Flags().BoolVar(&archived, "archived", false, "include archived repositories")
	cmd.Flags().BoolVar(&forks, "forks", false, "include forks")
	cmd.Flags().BoolVar(&list, "list", false, "print the repositories, not a matrix")
	cmd.Flags().IntVar(&maxJobs, "max-jobs", maxMatrix, "print at most `N` matrix entries")
	return cmd
}

// filterRepos keeps the repositories the flags select, sorted.
func filterRepos(all []forge.Repository, owners, matches []string, archived, forks bool) []forge.Repository {
	var out []forge.Repository
	for _, r := range all {
		if (r.Archived && !archived) || (r.Fork && !forks) {
			continue
		}
		if len(owners) > 0 && !containsFold(owners, r.Owner) {
			continue
		}
		if len(matches) > 0 {
			ok := false
			for _, m := range matches {
				if hit, _ := path.Match(m, r.FullName); hit {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FullName < out[j].FullName })
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// matrixEntry is one job of the matrix: a batch of repositories.
type matrixEntry struct {
	Batch        int    `json:"batch"`
	Repositories string `json:"repositories"` // OWNER/NAME, separated by spaces
	Count        int    `json:"count"`
}

// matrix spreads repos over at most jobs entries, as evenly as can be.
func matrix(repos []forge.Repository, jobs int) map[string][]matrixEntry {
	n := min(len(repos), jobs)
	entries := make([]matrixEntry, n)
	for i, r := range repos {
		e := &entries[i*n/len(repos)]
		if e.Repositories != "" {
			e.Repositories += " "
		}
		e.Repositories += r.FullName
		e.Count++
	}
	for i := range entries {
		entries[i].Batch = i + 1
	}
	return map[string][]matrixEntry{"include": entries}
}

func newTokenCmd() *cobra.Command {
	var a appFlags
	var repo string
	cmd := &cobra.Command{
		Use:   "token --repo OWNER/NAME",
		Short: "Print a GitHub App installation token scoped to one repository",
		Long: `Token mints an installation access token of a GitHub App, scoped to the one
repository named, and prints it on standard output: for a workflow that
clones each repository "pinbot repos" lists and runs "pinbot pr" in it.
Mask it at once (echo "::add-mask::$token"); it expires within an hour.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := forge.ParseRepo(repo)
			if err != nil {
				return usageError("--repo: %v", err)
			}
			app, api, err := a.app()
			if err != nil {
				return err
			}
			tok, err := app.InstallationToken(cmd.Context(), api, r)
			if err != nil {
				return &exitError{code: exitForge, err: err}
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	a.register(cmd)
	cmd.Flags().StringVar(&repo, "repo", "", "the repository, `OWNER/NAME`")
	return cmd
}
