package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"
)

// WriteText lists what a run changed, one reference a line, then the summary.
// verbose adds the current and skipped references.
func WriteText(w io.Writer, r *Report, verbose bool) error {
	for _, e := range r.Entries {
		var line string
		switch {
		case e.Status == Pinned || e.Status == Updated:
			line = fmt.Sprintf("%s: %s -> %s", e.Location(), e.Ref, e.Pinned)
			if e.Status == Updated {
				line += " (tag moved)"
			}
		case e.PolicyChanged():
			line = fmt.Sprintf("%s: %s: imagePullPolicy %s", e.Location(), e.Ref, e.PullPolicy)
		case verbose && e.Status == Current:
			line = fmt.Sprintf("%s: %s: current", e.Location(), e.Ref)
		case verbose && e.Status == Skipped:
			line = fmt.Sprintf("%s: %s: skipped: %s", e.Location(), e.Ref, e.Reason)
		default:
			continue
		}
		if strings.HasPrefix(e.PullPolicy, "kept ") && verbose {
			line += "; imagePullPolicy " + e.PullPolicy
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, r.Summary())
	return err
}

// WriteProblems lists, for standard error, the files pinbot could not read
// and the references it could not resolve, each as "file:line: ...".
func WriteProblems(w io.Writer, r *Report) {
	for _, wn := range r.Warnings {
		fmt.Fprintf(w, "%s: warning: %s\n", locate(wn.File, wn.Line), wn.Message)
	}
	for _, e := range r.Entries {
		if e.Status == Failed {
			fmt.Fprintf(w, "%s: %s: %s\n", e.Location(), e.Ref, e.Error)
		}
	}
	for _, fe := range r.Errors {
		fmt.Fprintf(w, "%s: not written: %s\n", fe.File, fe.Error)
	}
}

func locate(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

// WriteCheck lists every reference that is not pinned and current, as
// "file:line: ref -> pinned", for a CI gate.
func WriteCheck(w io.Writer, r *Report) error {
	work := r.Work()
	for _, e := range work {
		var err error
		switch {
		case e.Status == Unpinned:
			_, err = fmt.Fprintf(w, "%s: %s: no digest\n", e.Location(), e.Ref)
		case e.Status == Pinned || e.Status == Updated:
			_, err = fmt.Fprintf(w, "%s: %s -> %s\n", e.Location(), e.Ref, e.Pinned)
		default:
			_, err = fmt.Fprintf(w, "%s: %s: imagePullPolicy %s\n", e.Location(), e.Ref, e.PullPolicy)
		}
		if err != nil {
			return err
		}
	}
	if len(work) == 0 {
		_, err := fmt.Fprintf(w, "all image references are pinned and current (%s)\n", r.Summary())
		return err
	}
	fix := "run pinbot pin to fix"
	if r.Offline {
		fix = "run pinbot pin to pin them"
	}
	_, err := fmt.Fprintf(w, "%d %s to pin or update: %s\n", len(work), plural(len(work), "reference", "references"), fix)
	return err
}

// WriteJSON writes the report as one JSON object.
func WriteJSON(w io.Writer, r *Report) error {
	type summary struct {
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
	}{r, summary{c[Pinned], c[Updated], c[Current], c[Unpinned], c[Skipped], c[Failed]}}
	if out.Entries == nil {
		out.Entries = []Entry{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteDiff writes a unified diff of one file, with a/ and b/ paths.
func WriteDiff(w io.Writer, path string, old, new []byte) error {
	d := udiff.Unified("a/"+path, "b/"+path, string(old), string(new))
	_, err := io.WriteString(w, d)
	return err
}
