package signature

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// Registry reads what a digest's signatures are kept in, through the same
// mirrors, credentials and per-registry limits as the image.
type Registry interface {
	// Referrers lists the manifests whose subject is d: the OCI 1.1
	// referrers API, or its tag fallback (sha256-<hex>). None is no error.
	Referrers(ctx context.Context, d name.Digest) ([]v1.Descriptor, error)
	// Manifest reads an image manifest by tag or digest; ErrNotFound when
	// the registry has none there.
	Manifest(ctx context.Context, ref name.Reference) (*v1.Manifest, error)
	// Index lists the manifests of the index d; none when d is an image.
	Index(ctx context.Context, d name.Digest) ([]v1.Descriptor, error)
	// Blob reads a blob, at most limit bytes.
	Blob(ctx context.Context, d name.Digest, limit int64) ([]byte, error)
}

// ErrNotFound is a manifest the registry says it does not have.
var ErrNotFound = errors.New("not found")

const (
	bundleMediaType   = "application/vnd.dev.sigstore.bundle"
	simpleSigningType = "application/vnd.dev.cosign.simplesigning.v1+json"
	dsseType          = "application/vnd.dsse.envelope.v1+json"

	annSignature   = "dev.cosignproject.cosign/signature"
	annCertificate = "dev.sigstore.cosign/certificate"
	annChain       = "dev.sigstore.cosign/chain"
	annBundle      = "dev.sigstore.cosign/bundle"
	// annBundleContent is on a bundle's referrer: what the bundle holds.
	annBundleContent = "dev.sigstore.bundle.content"
)

// Bounds on what one digest's discovery reads.
const (
	// MaxArtifact is the most bytes of one bundle, payload or envelope.
	MaxArtifact = 1 << 20
	// MaxReferrers is the most Sigstore bundles read from a referrers list.
	MaxReferrers = 16
	// MaxLayers is the most signatures read from one cosign tag.
	MaxLayers = 16
)

// Format is where and how a signature was kept.
type Format string

const (
	FormatBundle Format = "bundle"      // a Sigstore bundle, by the referrers API or its tag
	FormatSig    Format = "cosign .sig" // simple signing, on sha256-<hex>.sig
	FormatAtt    Format = "cosign .att" // a DSSE envelope, on sha256-<hex>.att
)

// candidate is one signature found for a digest, not yet verified.
type candidate struct {
	format Format
	where  string // the manifest that holds it
	bundle *bundle.Bundle
	// payload is the simple-signing payload (.sig) or the DSSE envelope
	// (.att); ann the layer's annotations.
	payload []byte
	ann     map[string]string
	err     error // why it could not be read
}

// discovered is what one digest's discovery found.
type discovered struct {
	candidates []candidate
	// notes are what discovery could not read and why (a registry error,
	// a list past its bound): the answer may be incomplete.
	notes []string
}

// discover finds d's signatures and attestations: bundles among its
// referrers (the API, else its tag fallback), and on cosign's .sig and
// .att tags; the three are asked at once, and found in that order.
func discover(ctx context.Context, reg Registry, d name.Digest) discovered {
	var parts [3]discovered
	var wg sync.WaitGroup
	wg.Go(func() { parts[0] = referred(ctx, reg, d) })
	hexPart := strings.TrimPrefix(d.DigestStr(), "sha256:")
	for i, t := range []struct {
		suffix string
		format Format
		layer  string
	}{{".sig", FormatSig, simpleSigningType}, {".att", FormatAtt, dsseType}} {
		wg.Go(func() {
			tag := d.Context().Tag("sha256-" + hexPart + t.suffix)
			cs, err := readCosign(ctx, reg, tag, t.format, t.layer)
			if err != nil {
				parts[i+1].notes = append(parts[i+1].notes, tag.TagStr()+": "+err.Error())
			}
			parts[i+1].candidates = cs
		})
	}
	wg.Wait()
	var out discovered
	for _, p := range parts {
		out.candidates = append(out.candidates, p.candidates...)
		out.notes = append(out.notes, p.notes...)
	}
	return out
}

// referred reads the Sigstore bundles among d's referrers.
func referred(ctx context.Context, reg Registry, d name.Digest) discovered {
	var out discovered
	refs, err := reg.Referrers(ctx, d)
	if err != nil {
		out.notes = append(out.notes, "referrers: "+err.Error())
	}
	n := 0
	for _, desc := range refs {
		// Some registries list a referrer's config media type where its
		// artifactType belongs; cosign's annotation tells a bundle then.
		if _, ok := desc.Annotations[annBundleContent]; !ok && !strings.HasPrefix(desc.ArtifactType, bundleMediaType) {
			continue
		}
		if n++; n > MaxReferrers {
			out.notes = append(out.notes, fmt.Sprintf("more than %d Sigstore bundles among the referrers: the first %d read", MaxReferrers, MaxReferrers))
			break
		}
		out.candidates = append(out.candidates, readBundle(ctx, reg, d.Context().Digest(desc.Digest.String())))
	}
	return out
}

// readBundle reads the Sigstore bundle a referrer's manifest holds.
func readBundle(ctx context.Context, reg Registry, at name.Digest) candidate {
	c := candidate{format: FormatBundle, where: at.DigestStr()}
	m, err := reg.Manifest(ctx, at)
	if err != nil {
		c.err = fmt.Errorf("reading its manifest: %w", err)
		return c
	}
	for _, l := range m.Layers {
		if !strings.HasPrefix(string(l.MediaType), bundleMediaType) {
			continue
		}
		data, err := readLayer(ctx, reg, at.Context(), l)
		if err != nil {
			c.err = err
			return c
		}
		var b bundle.Bundle
		if err := b.UnmarshalJSON(data); err != nil {
			c.err = fmt.Errorf("malformed bundle: %w", err)
			return c
		}
		c.bundle = &b
		return c
	}
	c.err = errors.New("the manifest holds no Sigstore bundle")
	return c
}

// readCosign reads the signatures one cosign tag holds: none when the tag
// is not there.
func readCosign(ctx context.Context, reg Registry, tag name.Tag, format Format, mediaType string) ([]candidate, error) {
	m, err := reg.Manifest(ctx, tag)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []candidate
	for _, l := range m.Layers {
		if string(l.MediaType) != mediaType {
			continue
		}
		if len(out) == MaxLayers {
			return out, fmt.Errorf("more than %d signatures: the first %d read", MaxLayers, MaxLayers)
		}
		c := candidate{format: format, where: tag.TagStr(), ann: l.Annotations}
		c.payload, c.err = readLayer(ctx, reg, tag.Context(), l)
		out = append(out, c)
	}
	return out, nil
}

// readLayer reads one layer, bounded, and checks its bytes hash to its
// digest.
func readLayer(ctx context.Context, reg Registry, repo name.Repository, l v1.Descriptor) ([]byte, error) {
	if l.Size > MaxArtifact || l.Size < 0 {
		return nil, fmt.Errorf("too large: %d bytes, past the bound of %d", l.Size, MaxArtifact)
	}
	if l.Digest.Algorithm != "sha256" {
		return nil, fmt.Errorf("layer digest %s: want sha256", l.Digest)
	}
	data, err := reg.Blob(ctx, repo.Digest(l.Digest.String()), MaxArtifact)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != l.Digest.Hex {
		return nil, fmt.Errorf("blob %s: its bytes hash to something else", l.Digest)
	}
	return data, nil
}
