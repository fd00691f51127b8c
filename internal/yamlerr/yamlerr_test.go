package yamlerr

import (
	"testing"
)

// TestSplitNamesTheLineAtFault: the line named is where the broken
// construct is, for the parser's and the scanner's errors alike.
func TestSplitNamesTheLineAtFault(t *testing.T) {
	for _, c := range []struct {
		in   string
		line int
	}{
		{"a: 1\nb: [x, y\n", 2},       // an unclosed flow sequence
		{"a: 1\nb: 2\nc: {x: 1\n", 3}, // an unclosed flow mapping
		{"a: [x, y\nb: 2\n", 1},       // the bracket left open
		{"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: nginx:1.25\n   - name: b\n    image: redis:7\n", 9}, // a list item out of line
		{"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n\tcontainers:\n  - name: a\n", 6},                                                          // a tab
		{"a: 1\n---\nb:\n  c: 1\n  - d\n", 5},   // in a second document
		{"a: 1\n\tb: 2\n", 2},                   // a tab
		{"a: 1\nb: @x\n", 2},                    // a character that cannot start a token
		{"a:\n  - x\n  y: 1\n", 3},              // a key after a sequence item
		{"a: 1\nb:\n  c: 1\n d: 2\n", 4},        // bad indentation
		{"k: v\nlist:\n- a\n- [b, c\n- d\n", 4}, // flow inside block
	} {
		err := parseAll([]byte(c.in))
		if err == nil {
			t.Errorf("%q parsed", c.in)
			continue
		}
		if line, msg := SplitIn(err, []byte(c.in)); line != c.line {
			t.Errorf("%q: line %d (%s), want %d (yaml said %q)", c.in, line, msg, c.line, err)
		}
	}
}
