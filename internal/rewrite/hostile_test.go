package rewrite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// aliasBomb nests levels of anchors, each a collection of fan aliases to the
// one before: a walk that follows every path visits fan^levels nodes.
func aliasBomb(shape string, levels, fan int) string {
	var b strings.Builder
	b.WriteString("apiVersion: example.com/v1\nkind: Bomb\nspec:\n")
	switch shape {
	case "sequence":
		b.WriteString("  l0: &a0 [{image: \"busybox:1.36\"}]\n")
	case "merge":
		b.WriteString("  l0: &a0 {image: \"busybox:1.36\"}\n")
	case "list":
		b = strings.Builder{}
		b.WriteString("apiVersion: v1\nkind: List\nitems:\n- &a0 {apiVersion: v1, kind: Pod, spec: {containers: [{name: a, image: busybox:1.36}]}}\n")
	}
	for i := 1; i <= levels; i++ {
		aliases := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), fan), ",")
		switch shape {
		case "sequence":
			fmt.Fprintf(&b, "  l%d: &a%d [%s]\n", i, i, aliases)
		case "merge":
			fmt.Fprintf(&b, "  l%d: &a%d {<<: [%s]}\n", i, i, aliases)
		case "list":
			fmt.Fprintf(&b, "- &a%d {apiVersion: v1, kind: List, items: [%s]}\n", i, aliases)
		}
	}
	return b.String()
}

// TestAliasBomb: a few hundred bytes of anchors nine aliases wide and ten
// levels deep scan in a blink, and the one reference is found once.
func TestAliasBomb(t *testing.T) {
	for _, shape := range []string{"sequence", "merge", "list"} {
		t.Run(shape, func(t *testing.T) {
			src := aliasBomb(shape, 10, 9)
			if shape != "list" && len(src) > 700 {
				t.Fatalf("the bomb is %d bytes", len(src))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			f, err := ScanContext(ctx, "bomb.yaml", FormatManifest, []byte(src))
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			var refs []string
			for _, s := range f.Sites {
				refs = append(refs, s.Written)
			}
			if len(refs) != 1 || refs[0] != "busybox:1.36" {
				t.Fatalf("sites %v, want the one busybox:1.36", refs)
			}
		})
	}
}

// TestScanBudget: a file whose lookups multiply (every container merging one
// mapping of thousands of keys) is given up as too complex and left alone.
func TestScanBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Pod\nx: &big\n")
	for i := 0; i < 4000; i++ {
		fmt.Fprintf(&b, "  k%d: v\n", i)
	}
	b.WriteString("spec:\n  containers:\n")
	for i := 0; i < 4000; i++ {
		b.WriteString("  - {<<: *big}\n")
	}
	start := time.Now()
	_, err := Scan("pod.yaml", FormatManifest, []byte(b.String()))
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrTooComplex) {
		t.Fatalf("err = %v, want a ParseError for ErrTooComplex", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("giving up took %v", d)
	}
}

// TestScanCancel: a cancelled context ends a scan with the context's error.
func TestScanCancel(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "---\napiVersion: example.com/v1\nkind: X\nspec: {a: [{image: \"busybox:%d\"}]}\n", i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ScanContext(ctx, "many.yaml", FormatManifest, []byte(b.String())); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestDeepNesting: a file of nothing but nesting, in every format, fails
// alone as a ParseError naming a line, and the process lives on. A JSON
// parser or a recursive walk without a bound would end the run with a
// stack overflow.
func TestDeepNesting(t *testing.T) {
	const n = 1 << 20
	flow := "[" + strings.Repeat("[", n)
	block := func(prefix string) string {
		return prefix + "\n\nx:\n" + strings.Repeat("- ", 20000) + "a\n"
	}
	for _, tc := range []struct {
		path   string
		format Format
		data   string
	}{
		{".devcontainer/devcontainer.json", FormatDevcontainer, `{"image": ` + flow},
		{".devcontainer/devcontainer.json", FormatDevcontainer, `{"a": ` + strings.Repeat(`{"a": `, n)},
		{"pod.yaml", FormatManifest, "apiVersion: v1\nkind: Pod\nspec: " + flow},
		{"pod.yaml", FormatManifest, "apiVersion: v1\nkind: Pod\nspec: " + strings.Repeat("{a: ", n)},
		{"pod.yaml", FormatManifest, block("apiVersion: v1\nkind: Pod\n")},
		{"compose.yaml", FormatCompose, "services:\n  a: " + flow},
		{".github/workflows/ci.yml", FormatWorkflow, "jobs: " + flow},
		{"action.yml", FormatAction, "runs: " + flow},
		{"kustomization.yaml", FormatKustomization, "images: " + flow},
		{".gitlab-ci.yml", FormatGitLab, "build: " + flow},
		{"chart/values.yaml", FormatHelmValues, "image: " + flow},
		{"chart/values.yaml", FormatHelmValues, block("")},
		{"Dockerfile", FormatDockerfile, "FROM " + flow + "\n" + strings.Repeat("RUN a \\\n", 100000) + "b\n"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			_, err := Scan(tc.path, tc.format, []byte(tc.data))
			if tc.format == FormatDockerfile {
				return // no nesting to refuse: it lives, which is the test
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("err = %v, want a ParseError with a line", err)
			}
		})
	}
}
