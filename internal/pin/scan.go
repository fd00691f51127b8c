package pin

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pinbot/pinbot/internal/checkout"
	"github.com/pinbot/pinbot/internal/progress"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/pinbot/pinbot/internal/rewrite"
)

// scanAll reads and parses files (in the formats detected) into out with a
// bounded pool.
// done is called with each file's index once it is scanned.
func scanAll(ctx context.Context, co *checkout.Checkout, cx *rewrite.Context, files []string, formats []rewrite.Format, out []*fileRun, jobs int, pt *progress.Tracker, done func(i int)) error {
	parallel(len(files), jobs, func(i int) {
		if ctx.Err() == nil {
			out[i].scanned = scanOne(ctx, co, cx, files[i], formats[i])
			done(i)
			pt.FileDone()
		}
	})
	return ctx.Err()
}

// parallel runs f for 0..n-1, jobs at once (0: one per processor), each
// worker taking the next index from a counter.
func parallel(n, jobs int, f func(i int)) {
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(n, jobs); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}

func scanOne(ctx context.Context, co *checkout.Checkout, cx *rewrite.Context, p string, format rewrite.Format) scanned {
	data, mode, err := co.ReadFile(p)
	var tooLarge *checkout.TooLargeError
	if errors.As(err, &tooLarge) {
		// a file too large to read whose start shows it is not of its
		// name's format (a package-lock.json) is none of pinbot's
		if head, herr := co.ReadHead(p, 1<<20); herr == nil && rewrite.NotOfFormat(format, head) {
			return scanned{}
		}
	}
	if err != nil {
		return scanned{unread: &report.FileError{File: p, Error: readError(err)}}
	}
	f, err := rewrite.ScanIn(ctx, cx, p, format, data)
	if err != nil {
		var pe *rewrite.ParseError
		switch {
		case errors.Is(err, rewrite.ErrNotOfFormat):
			return scanned{}
		case errors.Is(err, rewrite.ErrTooComplex):
			// pinbot cannot see what the file names: a gate must not pass it
			return scanned{unread: &report.FileError{File: p, Error: err.Error()}}
		case errors.As(err, &pe):
			return scanned{warn: &report.Warning{File: p, Line: pe.Line, Message: "not valid " + format.Kind() + ", left as it is: " + pe.Msg,
				MayNameImages: rewrite.MayNameImages(format, data)}}
		}
		return scanned{unread: &report.FileError{File: p, Error: err.Error()}}
	}
	return scanned{file: f, mode: mode}
}

// withCharts is the listed files with what a chart's values need beyond
// them: the Chart.yaml and templates of every chart that holds a listed
// file (when a values file is named alone, or its Chart.yaml is ignored).
// A directory the walk read is known to hold a Chart.yaml or not; the others
// are looked in.
func withCharts(co *checkout.Checkout, l *checkout.Listing) []string {
	files := l.Files
	listed := make(map[string]bool, len(files))
	for _, f := range files {
		listed[f] = true
	}
	charts := make(map[string]bool, len(l.Also)) // the charts' directories the walk saw
	for _, f := range l.Also {
		charts[path.Dir(f)] = true
	}
	dirs := map[string]bool{}
	last := ""
	for _, f := range files {
		d := path.Dir(f)
		if d == last { // sorted files mostly follow others of their directory
			continue
		}
		last = d
		for ; ; d = path.Dir(d) {
			if dirs[d] {
				break
			}
			dirs[d] = true
			if d == "." {
				break
			}
		}
	}
	out := files
	for d := range dirs {
		chart := path.Join(d, "Chart.yaml")
		switch {
		case listed[chart]:
			continue
		case l.Dirs[d]:
			if !charts[d] {
				continue
			}
		default:
			if _, _, err := co.ReadFile(chart); err != nil {
				continue
			}
		}
		more, err := co.Files([]string{d}, nil)
		if err != nil {
			continue
		}
		for _, m := range more {
			if !listed[m] && (path.Base(m) == "Chart.yaml" || strings.Contains(m, "/templates/")) {
				listed[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// readError says why a file could not be read, without the root's path.
func readError(err error) string {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.As(err, &pe):
		return pe.Err.Error()
	}
	return err.Error()
}
