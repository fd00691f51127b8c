package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// termLoc is "file:line" for the start of a terminal line.
func termLoc(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", TermPath(file), line)
	}
	return TermPath(file)
}

// WriteText lists what a run changed, one reference a line, then the summary.
// verbose adds the current and skipped references. Every string from the
// checkout or a registry goes through Term: one line each, nothing a
// terminal or a workflow runner would take for a command.
func WriteText(w io.Writer, r *Report, verbose bool) error {
	for _, e := range r.Entries {
		loc := termLoc(e.File, e.Line)
		var line string
		switch {
		case e.Status == Pinned || e.Status == Updated || e.Status == Vanished:
			line = fmt.Sprintf("%s: %s -> %s", loc, Term(e.Ref), Term(e.Pinned))
			switch e.Status {
			case Updated:
				line += " (tag moved)"
			case Vanished:
				line += " (URGENT: " + VanishedNote + ")"
			}
			if e.Note != "" {
				line += " (" + Term(e.Note) + ")"
			}
			if e.PolicyChanged() || strings.HasPrefix(e.PullPolicy, "kept Always (") {
				line += "; imagePullPolicy " + Term(e.PullPolicy)
			}
			if n := e.Signature.Note(); n != "" {
				line += "; " + Term(n)
			}
		case e.Status == Held:
			line = fmt.Sprintf("%s: %s: held: %s (--min-age)", loc, Term(e.Ref), Term(HeldNote(e, time.Now())))
		case e.PolicyChanged() && r.Offline:
			line = fmt.Sprintf("%s: %s: imagePullPolicy would be %s (offline: nothing written)", loc, Term(e.Ref), Term(strings.TrimPrefix(e.PullPolicy, "added ")))
		case e.PolicyChanged():
			line = fmt.Sprintf("%s: %s: imagePullPolicy %s", loc, Term(e.Ref), Term(e.PullPolicy))
		case verbose && e.Status == Current:
			line = fmt.Sprintf("%s: %s: current", loc, Term(e.Ref))
		case verbose && e.Status == Unverified:
			line = fmt.Sprintf("%s: %s: pinned (not verified offline)", loc, Term(e.Ref))
		case verbose && e.Status == Skipped:
			line = fmt.Sprintf("%s: %s: skipped: %s", loc, Term(e.Ref), Term(e.Reason))
		default:
			continue
		}
		if strings.HasPrefix(e.PullPolicy, "kept ") && verbose && !strings.Contains(line, "; imagePullPolicy ") {
			line += "; imagePullPolicy " + Term(e.PullPolicy)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	if verbose {
		if err := writeUnowned(w, r); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintln(w, r.Summary()); err != nil {
		return err
	}
	if s := r.SignatureSummary(); s != "" {
		if _, err := fmt.Fprintln(w, s); err != nil {
			return err
		}
	}
	if !verbose {
		return writeSkipped(w, r)
	}
	return nil
}

// writeUnowned lists the images each chart renders from no value pinbot
// can edit: left as they are, and why.
func writeUnowned(w io.Writer, r *Report) error {
	for _, c := range r.Charts {
		for _, u := range c.Unowned {
			if _, err := fmt.Fprintf(w, "%s: renders %s: left as it is: %s\n", TermPath(c.Dir), Term(u.Ref), Term(u.Reason)); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeSkipped explains a summary's "skipped": how many references were
// left alone for each reason, and the first few of them.
func writeSkipped(w io.Writer, r *Report) error {
	type group struct {
		reason string
		refs   []string
	}
	var groups []*group
	by := map[string]*group{}
	for _, e := range r.Entries {
		if e.Status != Skipped {
			continue
		}
		g := by[e.Reason]
		if g == nil {
			g = &group{reason: e.Reason}
			by[e.Reason] = g
			groups = append(groups, g)
		}
		g.refs = append(g.refs, termLoc(e.File, e.Line)+" "+Term(e.Ref))
	}
	for _, g := range groups {
		shown := g.refs
		more := ""
		if len(shown) > 3 {
			shown, more = shown[:3], fmt.Sprintf(", and %d more", len(g.refs)-3)
		}
		if _, err := fmt.Fprintf(w, "  skipped %d: %s (%s%s)\n", len(g.refs), Term(g.reason), strings.Join(shown, ", "), more); err != nil {
			return err
		}
	}
	return nil
}

// WriteProblems lists, for standard error, the files pinbot could not read
// or understand, the references it could not resolve and the files it could
// not write, each as "file:line: ...".
func WriteProblems(w io.Writer, r *Report) {
	for _, wn := range r.Warnings {
		fmt.Fprintf(w, "%s: warning: %s\n", termLoc(wn.File, wn.Line), Term(wn.Message))
	}
	for _, fe := range r.Unread {
		fmt.Fprintf(w, "%s: not read: %s\n", TermPath(fe.File), Term(fe.Error))
	}
	for _, c := range r.Unjudged() {
		fmt.Fprintf(w, "%s: chart not judged: %s (%d image %s left as %s; list the chart under ignore: in .pinbot.yaml to accept that)\n",
			TermPath(c.Dir), Term(c.Reason), c.Images, plural(c.Images, "value", "values"), plural(c.Images, "it is", "they are"))
	}
	// a registry given up on is said once, with the references it affects
	down := map[string][]Entry{}
	var order []string
	for _, e := range r.Entries {
		if e.Status == Failed && strings.Contains(e.Error, "given up on for the rest of the run") {
			if down[e.Error] == nil {
				order = append(order, e.Error)
			}
			down[e.Error] = append(down[e.Error], e)
		}
	}
	for _, msg := range order {
		if es := down[msg]; len(es) > 1 {
			fmt.Fprintf(w, "%s; %d references not resolved:\n", Term(msg), len(es))
			for _, e := range es {
				fmt.Fprintf(w, "  %s: %s\n", termLoc(e.File, e.Line), Term(e.Ref))
			}
		}
	}
	for _, e := range r.Entries {
		if e.Status == Failed && len(down[e.Error]) > 1 {
			continue
		}
		if e.Status == Failed {
			msg := e.Error
			if e.Vanished && !strings.Contains(msg, "no longer exists upstream") {
				msg += "; " + VanishedNote // the tag is gone, and so is the digest written
			}
			fmt.Fprintf(w, "%s: %s: %s\n", termLoc(e.File, e.Line), Term(e.Ref), Term(msg))
		}
	}
	for _, fe := range r.Errors {
		fmt.Fprintf(w, "%s: not written: %s\n", TermPath(fe.File), Term(fe.Error))
	}
}

func locate(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

// WriteCheck lists every reference that is not pinned and current, as
// "file:line: ref -> pinned", for a CI gate, then the verdict: never
// "current" when anything failed or could not be read.
func WriteCheck(w io.Writer, r *Report, verbose bool) error {
	work := r.WorkCount()
	for i := range r.Entries {
		e := &r.Entries[i]
		loc := termLoc(e.File, e.Line)
		note := ""
		if e.Note != "" {
			note = " (" + Term(e.Note) + ")"
		}
		var err error
		switch {
		case e.Status == Unpinned:
			_, err = fmt.Fprintf(w, "%s: %s: no digest%s\n", loc, Term(e.Ref), note)
		case e.Status == Vanished:
			_, err = fmt.Fprintf(w, "%s: %s -> %s (URGENT: %s)%s\n", loc, Term(e.Ref), Term(e.Pinned), VanishedNote, note)
		case e.Status == Pinned || e.Status == Updated:
			if n := e.Signature.Note(); n != "" {
				note += "; " + Term(n)
			}
			_, err = fmt.Fprintf(w, "%s: %s -> %s%s\n", loc, Term(e.Ref), Term(e.Pinned), note)
		case e.PolicyChanged():
			_, err = fmt.Fprintf(w, "%s: %s: imagePullPolicy %s\n", loc, Term(e.Ref), Term(e.PullPolicy))
		case e.Status == Held:
			_, err = fmt.Fprintf(w, "%s: %s: held, not failed: %s (--min-age)\n", loc, Term(e.Ref), Term(HeldNote(*e, time.Now())))
		case verbose && e.Status == Current:
			if n := e.Signature.Note(); n != "" {
				note += "; " + Term(n)
			}
			_, err = fmt.Fprintf(w, "%s: %s: current%s\n", loc, Term(e.Ref), note)
		case verbose && e.Status == Unverified:
			_, err = fmt.Fprintf(w, "%s: %s: pinned (not verified offline)\n", loc, Term(e.Ref))
		case verbose && e.Status == Skipped:
			_, err = fmt.Fprintf(w, "%s: %s: skipped: %s\n", loc, Term(e.Ref), Term(e.Reason))
		}
		if err != nil {
			return err
		}
	}
	if verbose {
		if err := writeUnowned(w, r); err != nil {
			return err
		}
	}
	c := r.Counts()
	// a file that may name images and was not understood is not vouched for
	failed := c[Failed] + len(r.Unread) + len(r.Errors) + len(r.Ununderstood()) + len(r.Unjudged())
	var err error
	switch {
	case r.Files == 0 && failed == 0:
		_, err = fmt.Fprintln(w, "nothing checked: no file in scope is in a format pinbot reads (0 files scanned)")
	case work == 0 && failed == 0 && r.Offline && c[Unverified] > 0:
		_, err = fmt.Fprintf(w, "every image reference is pinned; offline, no digest was checked against its registry (%s)\n", r.Summary())
	case work == 0 && failed == 0:
		_, err = fmt.Fprintf(w, "all image references are pinned and current (%s)\n", r.Summary())
	case work == 0:
		if c[Current]+c[Unverified] == 0 {
			_, err = fmt.Fprintf(w, "nothing could be checked: %s (%s)\n", failures(r), r.Summary())
		} else {
			_, err = fmt.Fprintf(w, "not checked: %s; the rest need no change (%s)\n", failures(r), r.Summary())
		}
	default:
		fix := "run pinbot pin to fix"
		if r.Offline {
			fix = "run pinbot pin to pin them"
		}
		msg := fmt.Sprintf("%d %s to pin or update: %s", work, plural(work, "reference", "references"), fix)
		if failed > 0 {
			msg += "; and not checked: " + failures(r)
		}
		_, err = fmt.Fprintln(w, msg)
	}
	return err
}

// failures is what a run could not do, counted: "1 reference could not be
// resolved, 2 files could not be read".
func failures(r *Report) string {
	var parts []string
	platforms, refused := 0, 0
	for _, e := range r.Entries {
		switch {
		case e.Status != Failed:
		case e.Signature != nil && e.Signature.Refused:
			refused++
		case len(e.Missing) > 0:
			platforms++
		}
	}
	if n := r.Counts()[Failed] - platforms - refused; n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s could not be resolved", n, plural(n, "reference", "references")))
	}
	if refused > 0 {
		parts = append(parts, fmt.Sprintf("%d %s refused by the signature policy", refused, plural(refused, "digest", "digests")))
	}
	if platforms > 0 {
		parts = append(parts, fmt.Sprintf("%d %s not cover the platforms asked for", platforms, plural(platforms, "reference does", "references do")))
	}
	if n := len(r.Unread); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s could not be read", n, plural(n, "file", "files")))
	}
	if n := len(r.Ununderstood()); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s that may name images could not be understood", n, plural(n, "file", "files")))
	}
	if n := len(r.Errors); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s could not be written", n, plural(n, "file", "files")))
	}
	if n := len(r.Unjudged()); n > 0 {
		parts = append(parts, fmt.Sprintf("%d Helm %s could not be judged", n, plural(n, "chart", "charts")))
	}
	return strings.Join(parts, ", ")
}

// WriteJSON writes the report as one JSON object.
func WriteJSON(w io.Writer, r *Report) error {
	type summary struct {
		Vanished int `json:"vanished,omitempty"`
		Pinned   int `json:"pinned"`
		Updated  int `json:"updated"`
		Current  int `json:"current"`
		Unpinned int `json:"unpinned,omitempty"`
		Skipped  int `json:"skipped"`
		Failed   int `json:"failed"`
	}
	c := r.Counts()
	out := struct {
		*Report
		Summary summary `json:"summary"`
	}{r, summary{c[Vanished], c[Pinned], c[Updated], c[Current], c[Unpinned], c[Skipped], c[Failed]}}
	if out.Entries == nil {
		out.Entries = []Entry{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
