package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pinbot/pinbot/internal/forge/githubfake"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestPR runs testdata/pr: "pinbot pr" as a separate process against an
// in-process registry and an in-process fake of GitHub's REST API that keeps
// real state ($GITHUB_API_URL; $GITHUB_TOKEN may write contents and pull
// requests). On top of the commands of TestScript:
//
//	gh-repo OWNER/NAME             a repository whose main branch holds $WORK's files
//	gh-pr OWNER/NAME               print its pull requests, bodies and comments
//	gh-file OWNER/NAME BRANCH PATH print a file on a branch ("absent" if none)
//	gh-push OWNER/NAME BRANCH AUTHOR PATH FILE
//	                               commit FILE's bytes to PATH, as someone else
//	gh-token NAME CONTENTS PULLS   a token with those permissions (read, write, -)
//	gh-fail METHOD PATH STATUS N   answer the next N matching requests with STATUS
//	gh-app ID KEYFILE REPO...      a GitHub App installed on REPOs, its key in KEYFILE
//	gh-backdate OWNER/NAME N [body-only]
//	                               date the first sightings in pull request N's body, and its
//	                               opening (unless body-only), back to 2000
//	gh-calls [none]                forget the API calls served so far; with none, fail
//	                               if any were served since the last gh-calls
//	gh-redirect METHOD PATH N      answer the next N matching requests with a 307 to
//	                               another host, which prints what it was sent to
//	                               the script's stdout file elsewhere.log
func TestPR(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/pr",
		UpdateScripts:       *updateScripts,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			if err := setupRegistry(env); err != nil {
				return err
			}
			gh := githubfake.New()
			env.Defer(gh.Close)
			gh.AddToken("ghs_test", githubfake.Token{Contents: githubfake.Write, PullRequests: githubfake.Write})
			env.Values["gh"] = gh
			env.Values["gh-calls-seen"] = new(int)
			env.Setenv("GITHUB_API_URL", gh.URL)
			env.Setenv("GITHUB_TOKEN", "ghs_test")
			env.Setenv("GITHUB_REPOSITORY", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"push":              scriptPush,
			"push-build":        scriptPushBuild,
			"manifest-requests": scriptManifestRequests,
			"move":              scriptMove,
			"unknown-to-get":    scriptUnknownToGet,
			"status":            scriptStatus,
			"sign":              scriptSign,
			"sigstore-root":     scriptSigstoreRoot,
			"gh-repo": func(ts *testscript.TestScript, neg bool, args []string) {
				gh := ts.Value("gh").(*githubfake.Server)
				files := map[string][]byte{}
				work := ts.Getenv("WORK")
				err := filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
					if err != nil {
						return err
					}
					rel, _ := filepath.Rel(work, p)
					if d.IsDir() && (rel == ".tmp" || rel == ".docker" || rel == ".git") {
						return filepath.SkipDir
					}
					if d.Type().IsRegular() {
						data, err := os.ReadFile(p)
						if err != nil {
							return err
						}
						files[filepath.ToSlash(rel)] = data
					}
					return nil
				})
				ts.Check(err)
				gh.CreateRepo(args[0], "main", files)
			},
			"gh-pr": func(ts *testscript.TestScript, neg bool, args []string) {
				gh := ts.Value("gh").(*githubfake.Server)
				var b strings.Builder
				for _, p := range gh.Pulls(args[0]) {
					labels := append([]string(nil), p.Labels...)
					sort.Strings(labels)
					fmt.Fprintf(&b, "#%d %s %s -> %s draft=%v labels=%s reviewers=%s teams=%s\ntitle: %s\n%s\n",
						p.Number, p.State, p.Head, p.Base, p.Draft, strings.Join(labels, ","), strings.Join(p.Reviewers, ","),
						strings.Join(p.Teams, ","), p.Title, p.Body)
					for _, c := range p.Comments {
						fmt.Fprintf(&b, "comment: %s\n", c)
					}
				}
				ts.Stdout().Write([]byte(b.String()))
			},
			"gh-file": func(ts *testscript.TestScript, neg bool, args []string) {
				gh := ts.Value("gh").(*githubfake.Server)
				data, mode, err := gh.File(args[0], args[1], args[2])
				if err != nil {
					fmt.Fprintln(ts.Stdout(), "absent")
					return
				}
				fmt.Fprintf(ts.Stdout(), "mode %s\n%s", mode, data)
			},
			"gh-push": func(ts *testscript.TestScript, neg bool, args []string) {
				gh := ts.Value("gh").(*githubfake.Server)
				data, err := os.ReadFile(ts.MkAbs(args[4]))
				ts.Check(err)
				_, err = gh.Push(args[0], args[1], args[2], "Edit "+args[3]+" by hand", map[string][]byte{args[3]: data})
				ts.Check(err)
			},
			"gh-token": func(ts *testscript.TestScript, neg bool, args []string) {
				gh := ts.Value("gh").(*githubfake.Server)
				perm := func(s string) string {
					if s == "-" {
						return ""
					}
					return s
				}
				gh.AddToken(args[0], githubfake.Token{Contents: perm(args[1]), PullRequests: perm(args[2])})
			},
			"gh-app": func(ts *testscript.TestScript, neg bool, args []string) {
				gh := ts.Value("gh").(*githubfake.Server)
				var id int64
				fmt.Sscan(args[0], &id)
				key, err := rsa.GenerateKey(rand.Reader, 2048)
				ts.Check(err)
				pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
				ts.Check(os.WriteFile(ts.MkAbs(args[1]), pemKey, 0o600))
				gh.AddApp(id, &key.PublicKey, githubfake.Token{Contents: githubfake.Write, PullRequests: githubfake.Write}, args[2:]...)
			},
			"gh-flags": func(ts *testscript.TestScript, neg bool, args []string) {
				gh := ts.Value("gh").(*githubfake.Server)
				gh.SetRepoFlags(args[0], containsFold(args[1:], "archived"), containsFold(args[1:], "fork"))
			},
			"gh-redirect": func(ts *testscript.TestScript, neg bool, args []string) {
				gh := ts.Value("gh").(*githubfake.Server)
				log := filepath.Join(ts.Getenv("WORK"), "elsewhere.log")
				var mu sync.Mutex
				elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					defer mu.Unlock()
					f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
					if err == nil {
						fmt.Fprintf(f, "%s %s Authorization=%q\n", r.Method, r.URL.Path, r.Header.Get("Authorization"))
						f.Close()
					}
					http.Error(w, `{"message":"elsewhere"}`, http.StatusNotFound)
				}))
				ts.Defer(elsewhere.Close)
				var n int
				fmt.Sscan(args[2], &n)
				// another host: the same loopback address by another name
				u := strings.Replace(elsewhere.URL, "127.0.0.1", "localhost", 1)
				gh.Fail(args[0], args[1], n, http.StatusTemporaryRedirect, http.Header{"Location": {u + "/stolen"}}, "")
			},
			"gh-backdate": func(ts *testscript.TestScript, neg bool, args []string) {
				// the first sightings a pull request keeps, made a date long past
				gh := ts.Value("gh").(*githubfake.Server)
				var n int
				fmt.Sscan(args[1], &n)
				re := regexp.MustCompile(`("[^"]+@sha256:[0-9a-f]{64}":")[^"]+"`)
				gh.EditPullBody(args[0], n, func(b string) string { return re.ReplaceAllString(b, `${1}2000-01-01T00:00:00Z"`) })
				// and the pull request opened then (unless "body-only"): no
				// sighting is older than that
				if len(args) > 2 && args[2] == "body-only" {
					return
				}
				gh.BackdatePull(args[0], n, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
			},
			"gh-calls": func(ts *testscript.TestScript, neg bool, args []string) {
				gh := ts.Value("gh").(*githubfake.Server)
				calls := gh.Calls()
				seen := ts.Value("gh-calls-seen").(*int)
				fresh := calls[min(*seen, len(calls)):]
				*seen = len(calls)
				if len(args) == 1 && args[0] == "none" && len(fresh) > 0 {
					ts.Fatalf("GitHub's API was called: %v", fresh)
				}
			},
			"gh-fail": func(ts *testscript.TestScript, neg bool, args []string) {
				gh := ts.Value("gh").(*githubfake.Server)
				var status, n int
				fmt.Sscan(args[2], &status)
				fmt.Sscan(args[3], &n)
				body := `{"message":"injected"}`
				if status == 403 {
					body = githubfake.SecondaryRateLimit
				}
				h := map[string][]string{"Retry-After": {"1"}}
				gh.Fail(args[0], args[1], n, status, h, body)
			},
		},
	})
}
