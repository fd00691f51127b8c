package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// rawManifest is a manifest pushed as its bytes are.
type rawManifest struct {
	mt   types.MediaType
	data []byte
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.data, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// putManifest pushes m to ref and returns its digest.
func putManifest(t *testing.T, ref string, m *v1.Manifest) name.Digest {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(tag, rawManifest{types.OCIManifestSchema1, data}); err != nil {
		t.Fatal(err)
	}
	h, _, _ := v1.SHA256(strings.NewReader(string(data)))
	return tag.Context().Digest(h.String())
}

func layer(i int) v1.Descriptor {
	return v1.Descriptor{MediaType: types.OCILayer, Size: 1000, Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", i)}}
}

// Every read of a manifest, an index or a config for the evidence is
// bounded: a config declared at 3 GiB is never asked for, a manifest past
// 4 MiB is not read, and the evidence says "too large" for what they would
// have told.
func TestFactsReadsAreBounded(t *testing.T) {
	rg := newReg(t, false)
	r := newResolver(t, Options{Insecure: []string{rg.host}, Attempts: 1})

	huge := putManifest(t, rg.host+"/app:huge-config", &v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Size: 3 << 30, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("c", 64)}},
		Layers: []v1.Descriptor{layer(1)}})
	big := &v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Size: 100, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("c", 64)}}}
	for i := 0; len(big.Layers)*140 < MaxResponse+(1<<20); i++ {
		big.Layers = append(big.Layers, layer(i))
	}
	bigD := putManifest(t, rg.host+"/app:huge-manifest", big)

	rg.reset()
	facts := r.Facts(context.Background(), []name.Digest{huge, bigD})
	if f := facts[huge.String()]; f.Err != nil || f.TooLarge != "config" || f.Size != 3<<30+1000 {
		t.Errorf("a config declared at 3 GiB: %+v, want its manifest's facts and the config too large", f)
	}
	if n := rg.count(http.MethodGet, "/blobs/"); n != 0 {
		t.Errorf("%d blob GETs: a config past the bound was asked for", n)
	}
	if f := facts[bigD.String()]; f.Err != nil || f.TooLarge != "manifest" {
		t.Errorf("a manifest past 4 MiB: %+v, want too large", f)
	}
}

// The bound holds for an answer that does not say its length (chunked) and
// for one that says it is shorter than it is.
func TestBoundTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := MaxResponse + 1
		if r.URL.Path == "/exact" {
			n = MaxResponse
		}
		if r.URL.Path == "/declared" {
			w.Header().Set("Content-Length", fmt.Sprint(3<<30))
			w.WriteHeader(http.StatusOK)
			return
		}
		w.(http.Flusher).Flush() // chunked: no length said
		w.Write([]byte(strings.Repeat("x", n)))
	}))
	defer srv.Close()
	c := &http.Client{Transport: &boundTransport{next: http.DefaultTransport}}
	for path, wantErr := range map[string]bool{"/exact": false, "/over": true, "/declared": true} {
		resp, err := c.Get(srv.URL + path)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if got := errors.Is(err, ErrTooLarge); got != wantErr {
			t.Errorf("%s: err = %v, want too large: %v", path, err, wantErr)
		}
	}
}
