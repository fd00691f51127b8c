package resolve

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Facts are what a reviewer of a digest bump wants to know of one image:
// when it was made, what it runs on, how large it is, and where its
// source is.
type Facts struct {
	// Created is the image's creation time; zero when it says none (or the
	// epoch, as reproducible builds do).
	Created time.Time `json:"created,omitempty"`
	// Platforms are an index's platforms; one for an image.
	Platforms []string `json:"platforms,omitempty"`
	// Size is the compressed size of the image's layers and config (for an
	// index, of its linux/amd64 image, or its first).
	Size int64 `json:"size"`
	// Source and Revision are the OCI annotations or labels
	// org.opencontainers.image.source and .revision, when it carries them.
	Source   string `json:"source,omitempty"`
	Revision string `json:"revision,omitempty"`
	// TooLarge names what was past MaxResponse and not read ("manifest",
	// "config"): what it would have told is unknown.
	TooLarge string `json:"tooLarge,omitempty"`
	Err      error  `json:"-"`
}

const (
	labelSource   = "org.opencontainers.image.source"
	labelRevision = "org.opencontainers.image.revision"
)

// ErrManifestUnknown is a digest whose manifest the registry says, asked
// for it, it does not have.
var ErrManifestUnknown = errors.New("the registry does not have the manifest (MANIFEST_UNKNOWN)")

// isNotFound tells an answer that the manifest asked for is not there.
func isNotFound(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range te.Errors {
		if d.Code == transport.ManifestUnknownErrorCode {
			return true
		}
	}
	return false
}

// Facts reads what each digest stands for: its manifest, for an index one
// image's manifest too, and that image's config (GETs, counted). The
// answer is by d.String().
func (r *Resolver) Facts(ctx context.Context, digests []name.Digest) map[string]Facts {
	uniq := dedupe(digests)
	out := make(map[string]Facts, len(uniq))
	var mu sync.Mutex
	r.each(ctx, len(uniq), func(i int) string { return r.hostOf(uniq[i]) }, func(ctx context.Context, i int) {
		f := r.facts(ctx, uniq[i])
		mu.Lock()
		out[uniq[i].String()] = f
		mu.Unlock()
	})
	return out
}

func (r *Resolver) facts(ctx context.Context, d name.Digest) Facts {
	var f Facts
	target, err := r.digestTarget(d)
	if err != nil {
		return Facts{Err: err}
	}
	r.count.manifestGets.Add(1)
	desc, err := r.puller.Get(ctx, target)
	if errors.Is(err, ErrTooLarge) {
		return Facts{TooLarge: "manifest"}
	}
	if isNotFound(err) {
		return Facts{Err: ErrManifestUnknown}
	}
	if err != nil {
		return Facts{Err: quoted(explainDigest(err, target))}
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return Facts{Err: quoted(err)}
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return Facts{Err: quoted(err)}
		}
		var pick *v1.Descriptor
		for k, m := range im.Manifests {
			if m.Platform == nil || m.Platform.OS == "unknown" { // attestations
				continue
			}
			f.Platforms = append(f.Platforms, m.Platform.String())
			if pick == nil || m.Platform.OS == "linux" && m.Platform.Architecture == "amd64" && m.Platform.Variant == "" {
				pick = &im.Manifests[k]
			}
		}
		sort.Strings(f.Platforms)
		f.Source, f.Revision = im.Annotations[labelSource], im.Annotations[labelRevision]
		if pick == nil {
			return f
		}
		r.count.manifestGets.Add(1)
		if desc, err = r.puller.Get(ctx, target.Context().Digest(pick.Digest.String())); errors.Is(err, ErrTooLarge) {
			f.TooLarge = "manifest"
			return f
		} else if err != nil {
			return Facts{Err: quoted(explainDigest(err, target))}
		}
	}
	img, err := desc.Image()
	if err != nil {
		return Facts{Err: quoted(err)}
	}
	m, err := img.Manifest()
	if err != nil {
		return Facts{Err: quoted(err)}
	}
	f.Size = m.Config.Size
	for _, l := range m.Layers {
		f.Size += l.Size
	}
	if f.Source == "" {
		f.Source, f.Revision = m.Annotations[labelSource], m.Annotations[labelRevision]
	}
	if m.Config.Size > MaxResponse || m.Config.Size < 0 {
		f.TooLarge = "config" // not asked for
		return f
	}
	r.count.blobGets.Add(1)
	cf, err := img.ConfigFile()
	if errors.Is(err, ErrTooLarge) {
		f.TooLarge = "config"
		return f
	}
	if err != nil {
		return Facts{Err: quoted(err)}
	}
	if len(f.Platforms) == 0 {
		if p := cf.Platform(); p != nil {
			f.Platforms = []string{p.String()}
		}
	}
	if t := cf.Created.Time; !t.IsZero() && t.Unix() > 0 {
		f.Created = t.UTC()
	}
	if f.Source == "" {
		f.Source, f.Revision = cf.Config.Labels[labelSource], cf.Config.Labels[labelRevision]
	}
	return f
}
