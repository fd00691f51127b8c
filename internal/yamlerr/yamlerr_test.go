package yamlerr

import (
	"bytes"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestSplitNamesTheLineAtFault: the line named is where the broken
// construct is, for the parser's and the scanner's errors alike.
func TestSplitNamesTheLineAtFault(t *testing.T) {
	for _, c := range []struct {
		in   string
		line int
	}{
		{"a: 1\nb: [x, y\n", 2},                 // an unclosed flow sequence
		{"a: 1\nb: 2\nc: {x: 1\n", 3},           // an unclosed flow mapping
		{"a: [x, y\nb: 2\n", 2},                 // on line 1: named where the parser gave up
		{"a: 1\n\tb: 2\n", 2},                   // a tab
		{"a: 1\nb: @x\n", 2},                    // a character that cannot start a token
		{"a:\n  - x\n  y: 1\n", 2},              // a key after a sequence item: the sequence it breaks
		{"a: 1\nb:\n  c: 1\n d: 2\n", 4},        // bad indentation
		{"k: v\nlist:\n- a\n- [b, c\n- d\n", 4}, // flow inside block
	} {
		var n yaml.Node
		err := yaml.NewDecoder(bytes.NewReader([]byte(c.in))).Decode(&n)
		if err == nil {
			t.Errorf("%q parsed", c.in)
			continue
		}
		if line, msg := Split(err); line != c.line {
			t.Errorf("%q: line %d (%s), want %d (yaml said %q)", c.in, line, msg, c.line, err)
		}
	}
}
