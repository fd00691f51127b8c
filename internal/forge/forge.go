// Package forge publishes pinbot's change as one pull request, kept current:
// the pipeline hands it "these files now have these bytes, and here is what
// to say", and a forge (GitHub) turns that into a commit on a branch and a
// pull request, opened once and updated after.
package forge

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Repo is a repository on the forge.
//
// Owner is the namespace the repository sits in: a GitHub user or
// organisation; on a forge with nested groups (GitLab), the whole group
// path, slashes and all ("group/subgroup"). Name is the repository's own
// name, never holding a slash; String is the path a forge names it by.
type Repo struct {
	Owner, Name string
}

func (r Repo) String() string { return r.Owner + "/" + r.Name }

var repoPart = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ParseRepo reads "OWNER/NAME".
func ParseRepo(s string) (Repo, error) {
	owner, name, ok := strings.Cut(strings.TrimSpace(s), "/")
	name = strings.TrimSuffix(name, ".git")
	if !ok || !repoPart.MatchString(owner) || !repoPart.MatchString(name) {
		return Repo{}, fmt.Errorf("repository %q: want OWNER/NAME", s)
	}
	return Repo{Owner: owner, Name: name}, nil
}

// RepoFromRemote reads a git remote URL (https://github.com/o/r.git,
// git@github.com:o/r.git, ssh://git@github.com/o/r) into the repository and
// its host.
func RepoFromRemote(remote string) (Repo, string, error) {
	remote = strings.TrimSpace(remote)
	var host, path string
	if u, err := url.Parse(remote); err == nil && u.Scheme != "" && u.Host != "" {
		host, path = u.Hostname(), strings.TrimPrefix(u.Path, "/")
	} else if at := strings.Index(remote, "@"); at >= 0 && strings.Contains(remote[at:], ":") {
		// scp-like: git@github.com:owner/name.git
		rest := remote[at+1:]
		host, path, _ = strings.Cut(rest, ":")
	} else {
		return Repo{}, "", fmt.Errorf("remote %q is not a URL the forge serves", remote)
	}
	r, err := ParseRepo(strings.TrimSuffix(path, "/"))
	if err != nil {
		return Repo{}, "", fmt.Errorf("remote %q: %w", remote, err)
	}
	return r, host, nil
}

// File is a file whose bytes change.
type File struct {
	Path     string // slash path from the repository's root
	Old, New []byte
	Mode     fs.FileMode // of the local file; the base branch's mode wins
}

// Request is what to publish.
type Request struct {
	Repo   Repo
	Base   string // the branch the pull request targets; "" for the default branch
	Branch string // the branch pinbot owns, as in "pinbot/digests"
	Title  string
	Body   string
	// CommitMessage is the message of the one commit the branch carries on
	// top of the base; Trailer is appended to it, and marks the commits that
	// are pinbot's own.
	CommitMessage string
	Files         []File // empty: nothing to change
	Labels        []string
	Reviewers     []string // users, or org/team
	Draft         bool
	// CurrentComment is posted on an open pull request that pinbot closes
	// because there is nothing left to change.
	CurrentComment string
	// DryRun reads but writes nothing: the result says what would be done.
	DryRun bool
	// KeepOpen leaves an open pull request open even with nothing to change,
	// its body brought up to date: the run could not see everything (some
	// references failed to resolve), so "the pins are current" would not
	// be known to be true; or moves are held, their first sightings kept
	// in the body.
	KeepOpen bool
}

// Trailer marks a commit as pinbot's. A branch holding any commit without
// it is someone else's work and is never overwritten.
const Trailer = "Generated-by: pinbot"

// Action is what Publish did.
type Action string

const (
	Opened    Action = "opened"    // a new pull request
	Updated   Action = "updated"   // the open pull request got a new commit and text
	Unchanged Action = "unchanged" // the open pull request already carried this change
	Closed    Action = "closed"    // nothing to change any more: closed, branch deleted
	Nothing   Action = "nothing"   // nothing to change and no pull request open
)

// Result is the outcome of Publish.
type Result struct {
	Action Action
	Number int
	URL    string
	Base   string
	Branch string
	Commit string // the branch's head after publishing
	DryRun bool
}

// ErrForeignCommits is returned when the branch holds commits pinbot did not
// make: they are left alone.
var ErrForeignCommits = errors.New("the branch holds commits pinbot did not make")

// ErrStaleCheckout is returned when a file's original bytes differ from the
// base branch's: committing would undo someone's change.
var ErrStaleCheckout = errors.New("the checkout is not at the base branch's head")

// Forge is what "pinbot pr" asks of a forge: GitHub (GitHub) is one; a
// forge of another kind is one more implementation of these two methods,
// and nothing else changes.
type Forge interface {
	// Publish makes the change one pull request from req.Branch, kept
	// current: opened, updated, left unchanged or closed.
	Publish(ctx context.Context, req Request) (*Result, error)
	// OpenBody is the body of the open pull request from branch, and
	// when it was opened (the first sightings it keeps are never older);
	// "" and the zero time when none is open.
	OpenBody(ctx context.Context, repo Repo, branch string) (body string, opened time.Time, err error)
}

var _ Forge = (*GitHub)(nil)

// BlobSHA is git's object id for a file's bytes.
func BlobSHA(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}
