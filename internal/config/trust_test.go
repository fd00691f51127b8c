package config

import (
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
	pr := &Config{Mirrors: map[string]string{"docker.io": "evil.example/m"}, InsecureRegistries: []string{"evil.example"}, MaxFileSize: 1 << 40, MinAge: 1000 * time.Hour}
	base := &Config{Mirrors: map[string]string{"docker.io": "cache.example/m"}, MaxFileSize: 1 << 20, MinAge: 24 * time.Hour}
	week := 168 * time.Hour
	var small int64 = 1 << 10
	cases := []struct {
		name string
		src  Sources
		want Serving
	}{
		{"the checkout's file: its own, held as a checkout's", Sources{File: pr, InCheckout: true, Mirrors: []string{"ghcr.io=op.example/g"}},
			Serving{Mirrors: []string{"ghcr.io=op.example/g"}, CheckoutMirrors: []string{"docker.io=evil.example/m"}, CheckoutInsecure: []string{"evil.example"}, MaxFileSize: 1 << 40, MinAge: 1000 * time.Hour}},
		{"--base-config: the base revision's", Sources{File: pr, InCheckout: true, Base: base},
			Serving{CheckoutMirrors: []string{"docker.io=cache.example/m"}, MaxFileSize: 1 << 20, MinAge: 24 * time.Hour}},
		{"the flags beat both", Sources{File: pr, InCheckout: true, Base: base, MaxFileSize: &small, MinAge: &week},
			Serving{CheckoutMirrors: []string{"docker.io=cache.example/m"}, MaxFileSize: 1 << 10, MinAge: week}},
		{"a file from outside: the operator's", Sources{File: base, Mirrors: []string{"ghcr.io=op.example/g"}, Insecure: []string{"op.example"}},
			Serving{Mirrors: []string{"ghcr.io=op.example/g", "docker.io=cache.example/m"}, Insecure: []string{"op.example"}, MaxFileSize: 1 << 20, MinAge: 24 * time.Hour}},
		{"no file", Sources{}, Serving{}},
	}
	for _, c := range cases {
		got := c.src.Serving()
		if !slices.Equal(got.Mirrors, c.want.Mirrors) || !slices.Equal(got.Insecure, c.want.Insecure) ||
			!slices.Equal(got.CheckoutMirrors, c.want.CheckoutMirrors) || !slices.Equal(got.CheckoutInsecure, c.want.CheckoutInsecure) ||
			got.MaxFileSize != c.want.MaxFileSize || got.MinAge != c.want.MinAge {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
	if o := (Sources{File: pr, InCheckout: true, Base: base}).Overridden(); !slices.Equal(o, []string{"mirrors", "insecureRegistries", "maxFileSize", "minAge"}) {
		t.Errorf("Overridden = %v", o)
	}
	if o := (Sources{File: base, Base: pr}).Overridden(); o != nil {
		t.Errorf("a file from outside the checkout overrides nothing: %v", o)
	}
}
