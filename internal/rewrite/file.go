// Package rewrite finds the places a file names container images and splices
// digests into the file's original bytes.
//
// Files are parsed only to find things: YAML with kyaml's yaml.v3 nodes, which
// carry line and column, and Dockerfiles with BuildKit's parser. Every change
// is an Edit, a byte range of the original file and its replacement, so
// comments, quoting, indentation, key order, document markers, line endings
// and a byte order mark stay exactly as they were.
package rewrite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pinbot/pinbot/internal/imageref"
	"github.com/pinbot/pinbot/internal/yamlerr"
)

// File is a scanned file: its original bytes and the sites that name images.
type File struct {
	Path   string
	Format Format
	Data   []byte
	Sites  []*Site
	// Uses are the actions and reusable workflows a workflow or a
	// composite action names by ref (owner/repo@ref).
	Uses   []*Use
	src    *source
	cx     *Context             // what the scan knows of the checkout
	parsed map[string]parsedRef // references as written, parsed
	texts  map[[5]string]string // edit texts by their parts, one copy each
}

// isJSON tells a file whose format is JSON read as YAML: what is inserted
// into it must be JSON too.
func (f *File) isJSON() bool {
	fd := finderOf(f.Format)
	return fd != nil && fd.json
}

// text is a+b+c+d+e, made once and shared with every other edit of the
// file that inserts the same text: a file naming one image thousands of
// times holds it once.
func (f *File) text(a, b, c, d, e string) string {
	k := [5]string{a, b, c, d, e}
	if t, ok := f.texts[k]; ok {
		return t
	}
	t := a + b + c + d + e
	if f.texts == nil {
		f.texts = map[[5]string]string{}
	}
	f.texts[k] = t
	return t
}

// ErrNotOfFormat is a file whose name may be of a format, and whose bytes
// are not (a package.json is no Kubernetes manifest): it has no sites, and
// is no failure.
var ErrNotOfFormat = errors.New("not of the format its name suggests")

// NotOfFormat tells, from a file's first bytes, one that is not of the
// format its name suggests (see ErrNotOfFormat).
func NotOfFormat(format Format, head []byte) bool {
	fd := finderOf(format)
	return fd != nil && fd.sniff != nil && !fd.sniff(head)
}

// ParseError is a file pinbot cannot read as its format. The file is left as
// it is.
type ParseError struct {
	Line int // 1-based; 0 when unknown
	Msg  string
	Err  error // the cause, when it is one of this package's errors
}

func (e *ParseError) Unwrap() error { return e.Err }

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// parseError is a YAML decoder's error about data, with the line at fault.
func parseError(err error, data []byte) *ParseError {
	line, msg := yamlerr.SplitIn(err, data)
	if line == 0 {
		// A limit the parser hit (its depth), told without a line: the
		// line where the file nests deepest.
		line = deepestLine(data)
	}
	return &ParseError{Line: line, Msg: msg}
}

// deepestLine is the line (1-based) where YAML data nests deepest, by its
// indentation, the sequence dashes that open it, and the flow collections
// open there; 1 for a file without any.
func deepestLine(data []byte) int {
	best, bestLine, line, flow := -1, 1, 1, 0
	for len(data) > 0 {
		l := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		depth := len(l) - len(bytes.TrimLeft(l, " "))
		rest := l[depth:]
		for bytes.HasPrefix(rest, []byte("- ")) {
			depth++
			rest = bytes.TrimLeft(rest[1:], " ")
		}
		var quote byte
		peak := flow
	scan:
		for _, c := range rest {
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '#':
				break scan // a comment
			case c == '[' || c == '{':
				flow++
				peak = max(peak, flow)
			case c == ']' || c == '}':
				flow = max(flow-1, 0)
			}
		}
		if depth+peak > best {
			best, bestLine = depth+peak, line
		}
		line++
	}
	return bestLine
}

// ScanIn finds the image sites of a file in the given format, giving up
// with ctx's error once ctx is done; cx is what the run knows of the
// checkout (its charts, its GitLab CI includes), nil for a file alone. A
// *ParseError means the file could not be understood; no sites are
// returned then.
func ScanIn(ctx context.Context, cx *Context, p string, format Format, data []byte) (*File, error) {
	f := &File{Path: p, Format: format, Data: data, src: newSource(data), cx: cx}
	var err error
	switch fd := finderOf(format); {
	case fd == nil:
	case fd.sniff != nil && !fd.sniff(data):
		return nil, ErrNotOfFormat
	case fd.scan != nil:
		err = fd.scan(f)
	default:
		err = f.scanYAML(ctx)
	}
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(f.Sites, func(a, b *Site) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	f.src.drop() // the sites know their lines; an edit that needs the index makes it again
	return f, nil
}

// EditSites is the edits RewriteSites splices into the file's bytes, and
// the policy note of each site, index for index with f.Sites.
func (f *File) EditSites(digestAt func(i int) string, policyAt func(i int) PullPolicy) ([]Edit, []PolicyNote) {
	edits := make([]Edit, 0, 2*len(f.Sites))
	notes := make([]PolicyNote, len(f.Sites))
	for i, s := range f.Sites {
		edits, notes[i] = s.appendEdits(edits, f, digestAt(i), policyAt(i))
	}
	return edits, notes
}

// skip marks a site as left alone, for reason.
func (s *Site) skip(reason string) {
	if s.Skip == "" {
		s.Skip = reason
	}
}

// parse reads the site's reference, or says why it cannot be pinned. A file
// naming one image many times parses it once.
func (s *Site) parse(f *File) {
	p, ok := f.parsed[s.Written]
	if !ok {
		var shared bool
		p, shared = parseRef(s.Written)
		if !shared { // the run's cache is full: the file keeps its own
			if f.parsed == nil {
				f.parsed = map[string]parsedRef{}
			}
			f.parsed[p.written] = p
		}
	}
	s.Written = p.written
	switch {
	case errors.Is(p.err, imageref.ErrVariable):
		s.skip(ReasonVariable)
	case p.err != nil:
		s.skip(p.err.Error())
	default:
		s.Ref = p.ref
	}
}

type parsedRef struct {
	written string // a copy: a value as parsed may hold on to the whole file
	ref     imageref.Ref
	err     error
}

// parsedRefs holds references already parsed, for every file of a run: a
// repository names the same images in file after file. It stops growing at
// maxParsed entries.
var (
	parsedRefs  sync.Map // string → parsedRef
	parsedCount atomic.Int64
)

const maxParsed = 1 << 14

// parseRef parses a reference as written, and tells whether the run's
// cache holds it.
func parseRef(written string) (parsedRef, bool) {
	if p, ok := parsedRefs.Load(written); ok {
		return p.(parsedRef), true
	}
	p := parsedRef{written: strings.Clone(written)}
	p.ref, p.err = imageref.Parse(p.written)
	if parsedCount.Load() >= maxParsed {
		return p, false
	}
	if q, loaded := parsedRefs.LoadOrStore(p.written, p); loaded {
		return q.(parsedRef), true
	}
	parsedCount.Add(1)
	return p, true
}

// Settle drops what only making edits needs, once the file's edits are
// made and no more will be: each site's container and digest key, the line
// index, the cached texts. The sites keep what a report reads (where they
// are, what they name, why they are skipped). A file naming an image
// 450,000 times holds as many containers as sites.
func (f *File) Settle() {
	for _, s := range f.Sites {
		if s != nil {
			s.container, s.digestKey = nil, nil
		}
	}
	f.src, f.parsed, f.texts = nil, nil, nil
}
