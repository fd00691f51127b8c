package report

import (
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// GitHub Actions workflow commands and files: annotations that show on the
// pull request's diff, a job summary, and step outputs.

// escapeData escapes a workflow command's message.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func annotation(w io.Writer, level, file string, line, col int, title, msg string) error {
	msg = Clip(msg)
	props := []string{"file=" + escapeProperty(file)}
	if line > 0 {
		props = append(props, fmt.Sprintf("line=%d", line))
	}
	if col > 0 {
		props = append(props, fmt.Sprintf("col=%d", col))
	}
	props = append(props, "title="+escapeProperty(title))
	_, err := fmt.Fprintf(w, "::%s %s::%s\n", level, strings.Join(props, ","), escapeData(msg))
	return err
}

// failureTitle names what went wrong with a reference that failed.
func failureTitle(e Entry) string {
	switch {
	case e.Vanished:
		return "Vanished digest"
	case len(e.Missing) > 0:
		return "Platform missing"
	case e.Signature != nil && e.Signature.Refused:
		return "Signature refused"
	}
	return "Image not resolved"
}

// WriteAnnotations writes workflow commands for the run. With check, every
// reference that is unpinned or stale is an error on its line; without, what
// was pinned or updated is a notice. Unresolved references are errors and
// unreadable files warnings either way.
func WriteAnnotations(w io.Writer, r *Report, check bool) error {
	for _, e := range r.Entries {
		ann := func(level, title, msg string) error {
			if e.Note != "" {
				msg += " (" + e.Note + ")"
			}
			return annotation(w, level, e.File, e.Line, e.Column, title, msg)
		}
		var err error
		switch {
		case e.Status == Failed:
			err = ann("error", failureTitle(e), fmt.Sprintf("%s: %s", e.Ref, e.Error))
		case check && e.Status == Unpinned:
			err = ann("error", "Unpinned image", fmt.Sprintf("%s names no digest: the tag can point at other bytes tomorrow. Run pinbot pin.", e.Ref))
		case check && e.Status == Pinned:
			err = ann("error", "Unpinned image", fmt.Sprintf("%s names no digest: pin it as %s", e.Ref, e.Pinned))
		case e.Status == Vanished:
			level := "warning"
			if check {
				level = "error"
			}
			err = ann(level, "Vanished digest", fmt.Sprintf("%s: %s; renew it as %s", e.Ref, VanishedNote, e.Pinned))
		case check && e.Status == Updated:
			err = ann("error", "Stale digest", fmt.Sprintf("the tag %s moved upstream: %s is now %s", e.Tag, ShortDigest(e.OldDigest), e.Pinned))
		case check && e.PolicyChanged():
			err = ann("error", "imagePullPolicy", fmt.Sprintf("%s is pinned: imagePullPolicy %s", e.Ref, e.PullPolicy))
		case e.Status == Pinned:
			err = ann("notice", "Pinned", fmt.Sprintf("%s -> %s", e.Ref, e.Pinned))
		case e.Status == Updated:
			err = ann("notice", "Digest updated", fmt.Sprintf("the tag %s moved upstream: %s -> %s", e.Tag, ShortDigest(e.OldDigest), ShortDigest(e.Digest)))
		}
		if err != nil {
			return err
		}
		// a policy not met in audit: pinned, and said where the line is
		if s := e.Signature; s != nil && s.Problem != "" && !s.Refused && e.Status != Failed {
			if err := ann("warning", "Signature policy not met", fmt.Sprintf("%s: %s (audit: pinned anyway)", e.Ref, s.Problem)); err != nil {
				return err
			}
		}
	}
	for _, wn := range r.Warnings {
		level := "warning"
		if check && wn.MayNameImages {
			level = "error" // the gate fails on it
		}
		if err := annotation(w, level, wn.File, wn.Line, 0, "Not understood", wn.Message); err != nil {
			return err
		}
	}
	for _, fe := range r.Unread {
		if err := annotation(w, "error", fe.File, 0, 0, "Not read", fe.Error); err != nil {
			return err
		}
	}
	for _, fe := range r.Errors {
		if err := annotation(w, "error", fe.File, 0, 0, "Not written", fe.Error); err != nil {
			return err
		}
	}
	for _, c := range r.Unjudged() {
		if err := annotation(w, "error", path.Join(c.Dir, "Chart.yaml"), 0, 0, "Chart not judged", c.Reason); err != nil {
			return err
		}
	}
	return nil
}

// WriteStepSummary writes the job summary: the outcome, and a table of the
// references that need (or got) work, and of the failures.
func WriteStepSummary(w io.Writer, r *Report, check bool) error {
	var b strings.Builder
	b.WriteString("### pinbot\n\n" + r.Summary() + "\n")
	if s := r.SignatureSummary(); s != "" {
		b.WriteString("\n" + cell(s) + "\n")
	}
	if pr := r.PullRequest; pr != nil && pr.URL != "" {
		fmt.Fprintf(&b, "\nPull request [#%d](%s): %s.\n", pr.Number, pr.URL, pr.Action)
	}
	work := r.Work()
	if len(work) > 0 {
		head := "Pinned or updated"
		if check {
			head = "To pin or update"
		}
		fmt.Fprintf(&b, "\n#### %s\n\n| File | Reference | Now |\n| --- | --- | --- |\n", head)
		for i, e := range work {
			if i == 500 {
				fmt.Fprintf(&b, "\n_%d more: see the log._\n", len(work)-i)
				break
			}
			now := e.Pinned
			switch {
			case e.Status == Vanished:
				now = e.Pinned + " (the pinned digest vanished upstream)"
			case e.Status == Unpinned:
				now = "no digest"
			case e.Status != Pinned && e.Status != Updated:
				now = "imagePullPolicy " + e.PullPolicy
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", code(e.Location()), code(e.Ref), code(now))
		}
	}
	var failed []Entry
	for _, e := range r.Entries {
		if e.Status == Failed {
			failed = append(failed, e)
		}
	}
	if len(failed) > 0 {
		b.WriteString("\n#### Not resolved\n\n| File | Reference | Error |\n| --- | --- | --- |\n")
		for _, e := range failed {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", code(e.Location()), code(e.Ref), cell(e.Error))
		}
	}
	if len(r.Unread) > 0 {
		b.WriteString("\n#### Not read\n\n| File | Why |\n| --- | --- |\n")
		for _, fe := range r.Unread {
			fmt.Fprintf(&b, "| %s | %s |\n", code(fe.File), cell(fe.Error))
		}
	}
	writeCharts(&b, r, -1)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteOutputs writes step outputs, name=value a line: the counts and the
// pull request.
func WriteOutputs(w io.Writer, r *Report) error {
	c := r.Counts()
	var b strings.Builder
	for _, kv := range [][2]string{
		{"pinned", strconv.Itoa(c[Pinned])},
		{"updated", strconv.Itoa(c[Updated])},
		{"unpinned", strconv.Itoa(c[Unpinned])},
		{"failed", strconv.Itoa(c[Failed])},
		{"files-changed", strconv.Itoa(len(r.Changed))},
		{"files-unread", strconv.Itoa(len(r.Unread))},
		{"charts-not-judged", strconv.Itoa(len(r.Unjudged()))},
		{"signatures-refused", strconv.Itoa(r.Refused())},
	} {
		b.WriteString(outputLine(kv[0], kv[1]))
	}
	if pr := r.PullRequest; pr != nil {
		b.WriteString(outputLine("pr-action", pr.Action))
		if pr.Number > 0 {
			b.WriteString(outputLine("pr-number", strconv.Itoa(pr.Number)))
			b.WriteString(outputLine("pr-url", pr.URL))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
