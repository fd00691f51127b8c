package rewrite

import (
	"context"
	"fmt"
)

// The wrappers the tests call: the run itself scans with ScanIn and edits
// with EditSites.

// Scan finds the image sites of a file in the given format. A *ParseError
// means the file could not be understood; no sites are returned then.
func Scan(p string, format Format, data []byte) (*File, error) {
	return ScanContext(context.Background(), p, format, data)
}

// ScanContext is Scan that gives up, with ctx's error, once ctx is done.
func ScanContext(ctx context.Context, p string, format Format, data []byte) (*File, error) {
	return ScanIn(ctx, nil, p, format, data)
}

// Rewrite returns the file's bytes with every site pinned to the digest
// digestOf gives it ("" leaves a site alone) and the pull policy applied, and
// the policy note of each site, index for index with f.Sites.
func (f *File) Rewrite(digestOf func(*Site) string, pol PullPolicy) ([]byte, []PolicyNote, error) {
	return f.RewriteEach(func(i int) string { return digestOf(f.Sites[i]) }, pol)
}

// RewriteEach is Rewrite given the digest of each site by its index in
// f.Sites.
func (f *File) RewriteEach(digestAt func(i int) string, pol PullPolicy) ([]byte, []PolicyNote, error) {
	return f.RewriteSites(digestAt, func(int) PullPolicy { return pol })
}

// RewriteSites is RewriteEach with the pull policy of each site by its
// index.
func (f *File) RewriteSites(digestAt func(i int) string, policyAt func(i int) PullPolicy) ([]byte, []PolicyNote, error) {
	edits, notes := f.EditSites(digestAt, policyAt)
	out, err := apply(f.Data, edits)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	return out, notes, nil
}

func (f Format) String() string {
	if fd := finderOf(f); fd != nil {
		return fd.name
	}
	return "none"
}

// Detect tells a file's format from its slash-separated path alone.
func Detect(p string) Format { return (*Context)(nil).Detect(p) }
