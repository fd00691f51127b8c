package resolve

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/pinbot/pinbot/internal/signature"
)

// What a digest's signatures are kept in, read for signature.Checker:
// through the image's mirror, with its credentials, in the registry's
// slots, each answer bounded (MaxResponse, and the checker's own bounds).

var _ signature.Registry = (*Resolver)(nil)

// slot runs f holding a slot for a request to ref's registry (see hold).
func (r *Resolver) slot(ctx context.Context, ref name.Reference, f func(ctx context.Context) error) error {
	return r.hold(ctx, r.hostOf(ref), f)
}

// target is where ref is asked for: a tag or a digest, through its mirror.
func (r *Resolver) target(ref name.Reference) (name.Reference, error) {
	switch ref := ref.(type) {
	case name.Digest:
		return r.digestTarget(ref)
	case name.Tag:
		return r.Target(ref)
	}
	return nil, fmt.Errorf("%s: neither a tag nor a digest", ref)
}

// Referrers lists the manifests whose subject is d (the referrers API, or
// its tag fallback); one request, two where the registry has no API.
func (r *Resolver) Referrers(ctx context.Context, d name.Digest) ([]v1.Descriptor, error) {
	var out []v1.Descriptor
	err := r.slot(ctx, d, func(ctx context.Context) error {
		t, err := r.digestTarget(d)
		if err != nil {
			return err
		}
		r.count.signatureGets.Add(1)
		// the resolver's puller: its transports and tokens, no new handshake
		idx, err := remote.Referrers(t, remote.Reuse(r.puller), remote.WithContext(ctx))
		if err != nil {
			return quoted(err)
		}
		out, err = manifestsOf(idx)
		return err
	})
	return out, err
}

// Manifest reads an image manifest by tag or digest.
func (r *Resolver) Manifest(ctx context.Context, ref name.Reference) (*v1.Manifest, error) {
	var out *v1.Manifest
	err := r.slot(ctx, ref, func(ctx context.Context) error {
		t, err := r.target(ref)
		if err != nil {
			return err
		}
		if _, isTag := t.(name.Tag); isTag {
			// a HEAD first: most images have no cosign tag, and a HEAD
			// is no pull where a registry counts them
			r.count.signatureHeads.Add(1)
			if _, err := r.puller.Head(ctx, t); isNotFound(err) {
				return signature.ErrNotFound
			} else if err != nil {
				return quoted(err)
			}
		}
		r.count.signatureGets.Add(1)
		desc, err := r.puller.Get(ctx, t)
		if isNotFound(err) {
			return signature.ErrNotFound
		}
		if err != nil {
			return quoted(err)
		}
		if desc.MediaType.IsIndex() {
			return errors.New("an index, where a signature's manifest was expected")
		}
		img, err := desc.Image()
		if err != nil {
			return quoted(err)
		}
		out, err = img.Manifest()
		return quoted(err)
	})
	return out, err
}

// Index lists the manifests of the index d; none when d is an image.
func (r *Resolver) Index(ctx context.Context, d name.Digest) ([]v1.Descriptor, error) {
	var out []v1.Descriptor
	err := r.slot(ctx, d, func(ctx context.Context) error {
		t, err := r.digestTarget(d)
		if err != nil {
			return err
		}
		// a HEAD first: most digests are images, and a HEAD is no pull
		r.count.signatureHeads.Add(1)
		head, err := r.puller.Head(ctx, t)
		if err != nil {
			return quoted(err)
		}
		if !head.MediaType.IsIndex() {
			return nil
		}
		r.count.signatureGets.Add(1)
		desc, err := r.puller.Get(ctx, t)
		if err != nil {
			return quoted(err)
		}
		if !desc.MediaType.IsIndex() {
			return nil
		}
		idx, err := desc.ImageIndex()
		if err != nil {
			return quoted(err)
		}
		out, err = manifestsOf(idx)
		return err
	})
	return out, err
}

// Blob reads a blob, at most limit bytes.
func (r *Resolver) Blob(ctx context.Context, d name.Digest, limit int64) ([]byte, error) {
	var out []byte
	err := r.slot(ctx, d, func(ctx context.Context) error {
		t, err := r.digestTarget(d)
		if err != nil {
			return err
		}
		r.count.signatureGets.Add(1)
		l, err := r.puller.Layer(ctx, t)
		if err != nil {
			return quoted(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return quoted(err)
		}
		defer rc.Close()
		out, err = io.ReadAll(io.LimitReader(rc, limit+1))
		if err != nil {
			return quoted(err)
		}
		if int64(len(out)) > limit {
			return fmt.Errorf("blob %s: larger than %d bytes: not read", d.DigestStr(), limit)
		}
		return nil
	})
	return out, err
}

// manifestsOf lists an index's manifests.
func manifestsOf(idx v1.ImageIndex) ([]v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, quoted(err)
	}
	return im.Manifests, nil
}
