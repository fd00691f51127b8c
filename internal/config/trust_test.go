package config

import (
	"github.com/pinbot/pinbot/internal/signature"
	"slices"
	"testing"
	"time"
)

// TestServing: the trust boundary. A checkout's file cannot name the
// operator's mirrors or insecure registries, nor relax the size bound or
// the cooldown past the operator's flags; with --base-config, the base
// revision's file decides them, whatever the pull request's says; a file
// from outside the checkout is the operator's.
func TestServing(t *testing.T) {
	lax := &signature.Policy{Mode: signature.ModeOff}
	strict := &signature.Policy{Mode: signature.ModeEnforce, Rules: []signature.Rule{{Images: []string{"*"}, Key: "k.pub"}}}
	pr := &Config{Mirrors: map[string]string{"docker.io": "evil.example/m"}, InsecureRegistries: []string{"evil.example"}, MaxFileSize: 1 << 40, MinAge: 1000 * time.Hour, Signatures: lax}
	base := &Config{Mirrors: map[string]string{"docker.io": "cache.example/m"}, MaxFileSize: 1 << 20, MinAge: 24 * time.Hour, Signatures: strict}
	week := 168 * time.Hour
	var small int64 = 1 << 10
	cases := []struct {
		name string
		src  Sources
		want Serving
	}{
		{"the checkout's file: its own, held as a checkout's", Sources{File: pr, InCheckout: true, Mirrors: []string{"ghcr.io=op.example/g"}},
			Serving{Mirrors: []string{"ghcr.io=op.example/g"}, CheckoutMirrors: []string{"docker.io=evil.example/m"}, CheckoutInsecure: []string{"evil.example"}, MaxFileSize: 1 << 40, MinAge: 1000 * time.Hour, Signatures: lax, SignaturesAt: AtCheckout}},
		{"--base-config: the base revision's", Sources{File: pr, InCheckout: true, Base: base},
			Serving{CheckoutMirrors: []string{"docker.io=cache.example/m"}, MaxFileSize: 1 << 20, MinAge: 24 * time.Hour, Signatures: strict, SignaturesAt: AtBase}},
		{"the flags beat both", Sources{File: pr, InCheckout: true, Base: base, MaxFileSize: &small, MinAge: &week},
			Serving{CheckoutMirrors: []string{"docker.io=cache.example/m"}, MaxFileSize: 1 << 10, MinAge: week, Signatures: strict, SignaturesAt: AtBase}},
		{"a file from outside: the operator's", Sources{File: base, Mirrors: []string{"ghcr.io=op.example/g"}, Insecure: []string{"op.example"}},
			Serving{Mirrors: []string{"ghcr.io=op.example/g", "docker.io=cache.example/m"}, Insecure: []string{"op.example"}, MaxFileSize: 1 << 20, MinAge: 24 * time.Hour, Signatures: strict, SignaturesAt: AtOperator}},
		{"no file", Sources{}, Serving{}},
	}
	for _, c := range cases {
		got := c.src.Serving()
		if !slices.Equal(got.Mirrors, c.want.Mirrors) || !slices.Equal(got.Insecure, c.want.Insecure) ||
			!slices.Equal(got.CheckoutMirrors, c.want.CheckoutMirrors) || !slices.Equal(got.CheckoutInsecure, c.want.CheckoutInsecure) ||
			got.MaxFileSize != c.want.MaxFileSize || got.MinAge != c.want.MinAge || got.Signatures != c.want.Signatures || got.SignaturesAt != c.want.SignaturesAt {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
	if o := (Sources{File: pr, InCheckout: true, Base: base}).Overridden(); !slices.Equal(o, []string{"mirrors", "insecureRegistries", "maxFileSize", "minAge", "signatures"}) {
		t.Errorf("Overridden = %v", o)
	}
	if o := (Sources{File: base, Base: pr}).Overridden(); o != nil {
		t.Errorf("a file from outside the checkout overrides nothing: %v", o)
	}
}
