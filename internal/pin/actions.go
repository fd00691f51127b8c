package pin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/pinbot/pinbot/internal/actions"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/pinbot/pinbot/internal/rewrite"
	"github.com/pinbot/pinbot/internal/safetext"
)

// ActionsMode is what a run does with the actions and reusable workflows
// that workflows name by ref (owner/repo@v4).
type ActionsMode string

const (
	ActionsOff   ActionsMode = "off"   // left alone, not reported
	ActionsCheck ActionsMode = "check" // checked, never written
	ActionsPin   ActionsMode = "pin"   // pinned to commits, and checked
)

// ParseActionsMode reads pin, check or off.
func ParseActionsMode(s string) (ActionsMode, error) {
	switch m := ActionsMode(strings.ToLower(s)); m {
	case ActionsOff, ActionsCheck, ActionsPin:
		return m, nil
	}
	return "", fmt.Errorf("actions %q: want pin, check or off", s)
}

// ActionResolver is what the run asks GitHub about actions (see
// actions.Resolver).
type ActionResolver interface {
	Commit(ctx context.Context, repo, ref, known string) (string, error)
	Reaches(ctx context.Context, repo, sha string) (actions.Reach, error)
	ExactTag(ctx context.Context, repo, sha string) string
	Stats() actions.Stats
}

// DefaultActionsByTag are the actions left on their tag by default: the
// SLSA generator's reusable workflows verify the ref they are called by,
// and fail when called by a commit.
var DefaultActionsByTag = []string{"slsa-framework/slsa-github-generator/**"}

// Reasons an action is left alone.
const (
	ReasonActionByTag   = "called by its tag: it verifies the ref it is called by (actionsByTag)"
	ReasonActionSHAOnly = "pinned to a commit with no version comment: no ref to follow"
)

// usePlan is what the run decided for one "uses:".
type usePlan struct {
	tracks string // the ref it follows
	commit string // the commit it is to name; "" leaves it as it is
	exact  string // the most exact tag at commit, for the reviewer
	reach  string // the branch or tag that reaches a commit pinned alone
	// moved is the commit a pinned use's ref names now, when it moved;
	// first is when pinbot first saw it there (the cooldown's clock)
	moved    string
	first    time.Time
	eligible time.Time // held: when the move is proposed
	skip     string
	fail     error
	status   report.Status
}

// useJob is a use to ask GitHub about.
type useJob struct {
	fr *fileRun
	k  int
}

// judgeActions settles every "uses:" of the run: the commit its ref names,
// whether a commit pinned alone belongs to its repository, whether a
// version comment names the commit it sits beside. It returns the first
// sightings of the moves it saw, for the cooldown.
func (r *run) judgeActions() map[string]time.Time {
	seen := map[string]time.Time{}
	if r.opts.Actions == "" || r.opts.Actions == ActionsOff {
		return seen
	}
	var jobs []useJob
	for _, fr := range r.files {
		if fr.file == nil || len(fr.file.Uses) == 0 {
			continue
		}
		fr.uses = make([]usePlan, len(fr.file.Uses))
		for k := range fr.file.Uses {
			if r.planUse(fr.file.Uses[k], &fr.uses[k]) {
				jobs = append(jobs, useJob{fr, k})
			}
		}
	}
	parallel(len(jobs), 8, func(n int) {
		j := jobs[n]
		r.askUse(j.fr.file.Uses[j.k], &j.fr.uses[j.k])
	})
	r.rateLimited(jobs)
	for _, j := range jobs {
		if p := &j.fr.uses[j.k]; p.moved != "" && p.fail == nil {
			seen[moveKey(j.fr.file.Uses[j.k], p)] = p.first
		}
	}
	return seen
}

// moveKey names a move of an action's ref among the first sightings.
func moveKey(u *rewrite.Use, p *usePlan) string {
	return "action:" + u.Repo + "@" + p.tracks + "@" + p.moved
}

// planUse decides what can be decided without GitHub, and tells a use to
// ask it about.
func (r *run) planUse(u *rewrite.Use, p *usePlan) bool {
	switch {
	case u.Skip == rewrite.ReasonUsesNoRef || u.Skip == rewrite.ReasonUsesEmpty || u.Skip == rewrite.ReasonUsesForm:
		// GitHub refuses the workflow: a failure, as an unreadable image is
		p.fail = errors.New(u.Skip)
	case u.Skip != "":
		p.skip = u.Skip
	case r.actionIgnored(u):
		p.skip = ReasonConfigIgnored
	case matchAny(r.opts.ActionsByTag, u.Action()):
		p.skip = ReasonActionByTag
	case r.opts.ActionResolver == nil || r.opts.Offline:
		p.tracks = u.Tracks()
		if u.Pinned() {
			p.status = report.Unverified
		} else {
			p.status = report.Unpinned
		}
		return false
	default:
		p.tracks = u.Tracks()
		return true
	}
	return false
}

func (r *run) actionIgnored(u *rewrite.Use) bool {
	f, ok := r.opts.Filter.(interface{ IgnoredAction(string) bool })
	return ok && (f.IgnoredAction(u.Action()) || f.IgnoredAction(u.Repo))
}

func matchAny(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := doublestar.Match(g, s); ok {
			return true
		}
		if ok, _ := doublestar.Match(strings.TrimSuffix(g, "/**"), s); ok {
			return true
		}
	}
	return false
}

// askUse asks GitHub about one use and settles it.
func (r *run) askUse(u *rewrite.Use, p *usePlan) {
	ctx, res := r.ctx, r.opts.ActionResolver
	if p.tracks == "" {
		// a commit alone: it must belong to its repository
		reach, err := res.Reaches(ctx, u.Repo, u.Ref)
		switch {
		case err != nil:
			p.fail = err
		case reach.By != "":
			p.status, p.reach, p.skip = report.Current, reach.By, ReasonActionSHAOnly
		case reach.Proved:
			p.fail = impostor(u)
		default:
			p.fail = fmt.Errorf("%s: no branch or tag of %s pinbot compared reaches it, and it has more than it compares: pin it to a release", report.ShortDigest(u.Ref), u.Repo)
		}
		return
	}
	known := ""
	if u.Pinned() {
		known = u.Ref
	}
	commit, err := res.Commit(ctx, u.Repo, p.tracks, known)
	switch {
	case err != nil && u.Pinned():
		p.fail = fmt.Errorf("%s, which its comment follows: %w", safetext.Term(p.tracks), err)
		return
	case err != nil:
		p.fail = err
		return
	}
	switch {
	case !u.Pinned():
		p.commit, p.status = commit, report.Pinned
		p.exact = res.ExactTag(ctx, u.Repo, commit)
	case commit == u.Ref:
		p.commit, p.status = commit, report.Current
	case actions.Exact(p.tracks):
		// a release tag is not meant to move: the comment does not name
		// the commit (or the tag was moved, as in tj-actions/changed-files)
		p.fail = fmt.Errorf("the comment says %s, which names %s, not %s: a version comment that does not name its commit, or a release tag that was moved; pinbot writes neither: check the release and pin it by hand",
			safetext.Term(p.tracks), report.ShortDigest(commit), report.ShortDigest(u.Ref))
		if reach, err := res.Reaches(ctx, u.Repo, u.Ref); err == nil && reach.Proved && reach.By == "" {
			p.fail = fmt.Errorf("%w; and %w", p.fail, impostor(u))
		}
	default:
		p.commit, p.moved, p.status = commit, commit, report.Updated
		p.exact = res.ExactTag(ctx, u.Repo, commit)
		r.holdUse(u, p)
	}
}

// holdUse applies the cooldown to a moved ref: the commit it names now is
// written once it has been seen there for MinAge.
func (r *run) holdUse(u *rewrite.Use, p *usePlan) {
	now := time.Now
	if r.opts.Now != nil {
		now = r.opts.Now
	}
	t := now().UTC().Truncate(time.Second)
	first, ok := r.opts.FirstSeen[moveKey(u, p)]
	if !ok || first.After(t) {
		first = t // first seen now (a time to come is no sighting)
	}
	p.first = first
	if r.opts.MinAge > 0 && t.Sub(first) < r.opts.MinAge {
		p.commit, p.status, p.eligible = "", report.Held, first.Add(r.opts.MinAge)
	}
}

func impostor(u *rewrite.Use) error {
	return fmt.Errorf("%s is a commit no branch or tag of %s reaches (an impostor commit: a fork's, served under its parent's name, or one a force-push left): pin a release of %s", report.ShortDigest(u.Ref), u.Repo, u.Repo)
}

// rateLimited fails every use asked of GitHub when the rate limit cut any
// of them short: no action is written half-done.
func (r *run) rateLimited(jobs []useJob) {
	var limit error
	for _, j := range jobs {
		if err := j.fr.uses[j.k].fail; err != nil && errRateLimited(err) {
			limit = err
			break
		}
	}
	if limit == nil {
		return
	}
	for _, j := range jobs {
		p := &j.fr.uses[j.k]
		if p.fail == nil {
			p.fail = fmt.Errorf("not written: %w", limit)
			p.commit = ""
		}
	}
}

// useEdits are the edits that pin a file's uses.
func (r *run) useEdits(fr *fileRun) []rewrite.Edit {
	if r.opts.Actions != ActionsPin || r.opts.Offline {
		return nil
	}
	var edits []rewrite.Edit
	for k, u := range fr.file.Uses {
		if k >= len(fr.uses) {
			break
		}
		p := &fr.uses[k]
		if p.fail == nil && p.skip == "" && p.commit != "" && p.tracks != "" {
			edits = append(edits, u.UseEdits(p.commit, p.tracks)...)
		}
	}
	return edits
}

// useEntry reports one use.
func (r *run) useEntry(file string, u *rewrite.Use, p *usePlan) report.Entry {
	e := report.Entry{File: file, Line: u.Line, Column: u.Column, Kind: string(u.Kind), Ref: u.Written, Image: u.Action(), Tag: p.tracks}
	if u.Pinned() {
		e.OldDigest = u.Ref
	}
	switch {
	case p.skip != "" && p.status == "":
		e.Status, e.Reason = report.Skipped, p.skip
		return e
	case p.fail != nil:
		e.Status, e.Error = report.Failed, p.fail.Error()
		return e
	}
	e.Status, e.Reason = p.status, p.skip
	switch p.status {
	case report.Unverified:
		e.Digest = u.Ref
		return e
	case report.Unpinned:
		return e
	case report.Held:
		first, eligible := p.first, p.eligible
		e.Digest, e.FirstSeen, e.Eligible = p.moved, &first, &eligible
		e.Pinned = u.Action() + "@" + p.moved
		return e
	}
	e.Digest = p.commit
	e.Pinned = u.Action() + "@" + p.commit
	if p.reach != "" {
		e.Note = "reached by " + p.reach
	}
	if p.exact != "" && p.exact != p.tracks {
		e.Note = p.tracks + " = " + p.exact
	}
	if p.status == report.Updated {
		// the comment names another commit now: said, as the gate fails on it
		e.Note = strings.TrimPrefix(e.Note+"; ", "; ") + safetext.Term(p.tracks) + " names " + report.ShortDigest(p.commit) + " now, not " + report.ShortDigest(u.Ref)
	}
	if p.status == report.Updated && r.opts.ActionsWeb != "" {
		e.Compare = strings.TrimSuffix(r.opts.ActionsWeb, "/") + "/" + u.Repo + "/compare/" + u.Ref + "..." + p.commit
	}
	if p.status == report.Pinned && r.opts.Actions == ActionsCheck {
		e.Status, e.Digest, e.Pinned = report.Unpinned, "", ""
	}
	return e
}

// errRateLimited tells a use cut short by GitHub's rate limit.
func errRateLimited(err error) bool {
	var rl *actions.ErrRateLimited
	return errors.As(err, &rl)
}
