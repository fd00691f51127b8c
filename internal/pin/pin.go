// Package pin is pinbot's pipeline, shared by "pinbot pin" and "pinbot pr":
// scan a checkout for image sites, resolve each unique tag once, plan the
// edits and splice them into the original bytes. It writes nothing: the
// caller gets each changed file's old and new bytes and a report.
package pin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/pinbot/pinbot/internal/checkout"
	"github.com/pinbot/pinbot/internal/imageref"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/pinbot/pinbot/internal/resolve"
	"github.com/pinbot/pinbot/internal/rewrite"
)

// Resolver resolves tags to digests, keyed by canonical name (tag.Name()).
type Resolver interface {
	Resolve(ctx context.Context, tags []name.Tag) map[string]resolve.Result
}

// Filter selects files and leaves images alone.
type Filter interface {
	checkout.Filter
	Ignored(r imageref.Ref) bool
}

// Options configure a run.
type Options struct {
	// Paths are slash paths relative to the checkout's root; none means ".".
	Paths      []string
	Filter     Filter
	PullPolicy rewrite.PullPolicy
	// Offline asks no registry: references without a digest are reported
	// unpinned, and nothing is rewritten.
	Offline bool
	// Jobs bounds the files read and parsed at once; default GOMAXPROCS.
	Jobs int
}

// Change is a file whose bytes the run changes.
type Change struct {
	Path     string
	Old, New []byte
	Mode     fs.FileMode
}

// Result is a run's outcome.
type Result struct {
	Report  *report.Report
	Changes []Change
}

// ReasonConfigIgnored is the skip reason for images listed in the config's ignore.
const ReasonConfigIgnored = "listed under ignore in the configuration"

// ReasonDigestOnly says why a reference pinned by digest alone is never renewed.
const ReasonDigestOnly = "pinned by digest alone: no tag to follow"

type scanned struct {
	file *rewrite.File
	mode fs.FileMode
	warn *report.Warning
}

// Run scans, resolves and plans. Per-reference failures are in the report;
// an error means the run itself could not proceed.
func Run(ctx context.Context, co *checkout.Checkout, res Resolver, opts Options) (*Result, error) {
	paths := opts.Paths
	if len(paths) == 0 {
		paths = []string{"."}
	}
	if opts.PullPolicy == "" {
		opts.PullPolicy = rewrite.PolicyIfNotPresent
	}
	var filter checkout.Filter
	if opts.Filter != nil {
		filter = opts.Filter
	}
	files, err := co.Files(paths, filter)
	if err != nil {
		return nil, err
	}
	var candidates []string
	for _, f := range files {
		if rewrite.Detect(f) != rewrite.FormatNone {
			candidates = append(candidates, f)
		}
	}
	scans, err := scanAll(ctx, co, candidates, opts.Jobs)
	if err != nil {
		return nil, err
	}

	rep := &report.Report{Files: len(candidates), Offline: opts.Offline}
	var tags []name.Tag
	canon := map[*rewrite.Site]string{} // the tag each site follows, canonical
	for _, s := range scans {
		if s.warn != nil {
			rep.Warnings = append(rep.Warnings, *s.warn)
			continue
		}
		for _, site := range s.file.Sites {
			if site.Pinnable() && opts.Filter != nil && opts.Filter.Ignored(site.Ref) {
				site.Skip = ReasonConfigIgnored
			}
			if !site.Pinnable() || opts.Offline {
				continue
			}
			if t, err := site.Ref.Canonical(); err == nil {
				tags = append(tags, t)
				canon[site] = t.Name()
			}
		}
	}
	results := map[string]resolve.Result{}
	if len(tags) > 0 {
		results = res.Resolve(ctx, tags)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	out := &Result{Report: rep}
	for _, s := range scans {
		if s.file == nil {
			continue
		}
		f := s.file
		digestOf := func(site *rewrite.Site) string { return results[canon[site]].Digest }
		updated := f.Data
		var notes map[*rewrite.Site]rewrite.PolicyNote
		var err error
		if !opts.Offline {
			updated, notes, err = f.Rewrite(digestOf, opts.PullPolicy)
		}
		if err != nil {
			// conflicting edits: a bug or a file shape pinbot misread; leave the file
			rep.Warnings = append(rep.Warnings, report.Warning{File: f.Path, Message: "not rewritten: " + err.Error()})
			updated = f.Data
			notes = nil
		}
		seen := map[string]int{}
		for _, site := range f.Sites {
			e := entry(f.Path, site, results[canon[site]], notes[site], opts)
			key := fmt.Sprintf("%d:%d:%s:%s", e.Line, e.Column, e.Kind, e.Ref)
			if i, dup := seen[key]; dup { // one value reached through aliases
				if rep.Entries[i].PullPolicy == "" {
					rep.Entries[i].PullPolicy = e.PullPolicy
				}
				continue
			}
			seen[key] = len(rep.Entries)
			rep.Entries = append(rep.Entries, e)
		}
		if string(updated) != string(f.Data) {
			out.Changes = append(out.Changes, Change{Path: f.Path, Old: f.Data, New: updated, Mode: s.mode})
			rep.Changed = append(rep.Changed, f.Path)
		}
	}
	rep.Sort()
	return out, nil
}

// entry reports one site, given the registry's answer for the tag it follows.
func entry(file string, s *rewrite.Site, r resolve.Result, note rewrite.PolicyNote, opts Options) report.Entry {
	e := report.Entry{File: file, Line: s.Line, Column: s.Column, Kind: string(s.Kind), Ref: s.Written}
	if !s.Pinnable() {
		e.Status, e.Reason = report.Skipped, s.Skip
		return e
	}
	e.Image, e.Tag, e.OldDigest = s.Ref.Familiar(), s.Ref.Follows(), s.Ref.Digest
	switch {
	case opts.Offline && s.Ref.Digest == "":
		e.Status = report.Unpinned
		return e
	case opts.Offline:
		e.Status, e.Digest = report.Current, s.Ref.Digest
		return e
	case s.Ref.Follows() == "":
		e.Status, e.Digest, e.Reason = report.Current, s.Ref.Digest, ReasonDigestOnly
	default:
		e.Via = r.Via
		switch {
		case r.Err != nil || r.Digest == "":
			e.Status = report.Failed
			if r.Err != nil {
				e.Error = r.Err.Error()
			} else {
				e.Error = "not resolved"
			}
			return e
		case r.Digest == s.Ref.Digest:
			e.Status = report.Current
		case s.Ref.Digest != "":
			e.Status = report.Updated
		default:
			e.Status = report.Pinned
		}
		e.Digest = r.Digest
	}
	e.Pinned = s.Ref.WithDigest(e.Digest)
	switch note {
	case rewrite.PolicyAdded:
		e.PullPolicy = "added " + string(opts.PullPolicy)
	case rewrite.PolicyChanged:
		e.PullPolicy = s.PullPolicy + " -> " + string(opts.PullPolicy)
	case rewrite.PolicyKept:
		e.PullPolicy = "kept " + s.PullPolicy
	}
	return e
}

// scanAll reads and parses files with a bounded pool, in the given order.
func scanAll(ctx context.Context, co *checkout.Checkout, files []string, jobs int) ([]scanned, error) {
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	out := make([]scanned, len(files))
	idx := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				out[i] = scanOne(co, files[i])
			}
		}()
	}
	for i := range files {
		select {
		case idx <- i:
		case <-ctx.Done():
			close(idx)
			wg.Wait()
			return nil, ctx.Err()
		}
	}
	close(idx)
	wg.Wait()
	return out, nil
}

func scanOne(co *checkout.Checkout, p string) scanned {
	data, mode, err := co.ReadFile(p)
	if err != nil {
		return scanned{warn: &report.Warning{File: p, Message: "not read: " + err.Error()}}
	}
	f, err := rewrite.Scan(p, rewrite.Detect(p), data)
	if err != nil {
		var pe *rewrite.ParseError
		if errors.As(err, &pe) {
			return scanned{warn: &report.Warning{File: p, Line: pe.Line, Message: "not valid " + rewrite.Detect(p).Kind() + ", left as it is: " + pe.Msg}}
		}
		return scanned{warn: &report.Warning{File: p, Message: err.Error()}}
	}
	return scanned{file: f, mode: mode}
}
