package rewrite

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// randomEdits makes edits shaped like pinbot's on data: a digest after a
// reference inside a line, a value replaced, a whole line inserted after
// another (imagePullPolicy), a field appended to the last line.
func randomEdits(r *rand.Rand, data []byte) []Edit {
	var es []Edit
	starts := diffLines(data)
	for n := range len(starts) {
		start, end := starts[n], lineEnd(data, starts, n)
		if start == end {
			continue
		}
		switch r.IntN(6) {
		case 0: // a digest inside the line
			at := start + r.IntN(end-start)
			es = append(es, Edit{Start: at, End: at, Text: "@sha256:" + strings.Repeat("a", 64)})
		case 1: // a line inserted after this one
			es = append(es, Edit{Start: end, End: end, Text: "    imagePullPolicy: IfNotPresent\n"})
			if end == len(data) && data[end-1] != '\n' {
				es[len(es)-1] = Edit{Start: end, End: end, Text: "\n    imagePullPolicy: IfNotPresent"}
			}
		case 2: // a value replaced
			a := start + r.IntN(end-start)
			b := a + r.IntN(end-a)
			es = append(es, Edit{Start: a, End: b, Text: "IfNotPresent"})
		}
	}
	return es
}

func randomText(r *rand.Rand) []byte {
	var b bytes.Buffer
	lines := r.IntN(40)
	for i := 0; i < lines; i++ {
		fmt.Fprintf(&b, "line %d: image: nginx:1.%d", i, r.IntN(30))
		switch r.IntN(10) {
		case 0:
			b.WriteString("\r\n")
		case 1:
			b.WriteString("\n\n")
		default:
			b.WriteString("\n")
		}
	}
	if r.IntN(3) == 0 && b.Len() > 0 {
		b.Truncate(b.Len() - 1) // no newline at the end
	}
	return b.Bytes()
}

// The diff written from the edits, applied to the old bytes, gives the new
// ones: checked by a strict applier and, where it is installed, GNU patch.
func TestWriteDiffApplies(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	patch, _ := exec.LookPath("patch")
	for i := 0; i < 2000; i++ {
		old := randomText(r)
		es := randomEdits(r, old)
		want, err := Apply(old, es)
		if err != nil {
			t.Fatal(err)
		}
		var d bytes.Buffer
		if err := WriteDiff(&d, "f.yaml", old, es); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(want, old) {
			if d.Len() != 0 {
				t.Fatalf("no change, and a diff:\n%s", d.String())
			}
			continue
		}
		got, err := applyUnified(d.String(), old)
		if err != nil || got != string(want) {
			t.Fatalf("case %d: the diff does not apply (%v):\nold:\n%q\nwant:\n%q\ngot:\n%q\ndiff:\n%s", i, err, old, want, got, d.String())
		}
		if patch != "" && i%50 == 0 {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "f.yaml"), old, 0o644)
			cmd := exec.Command(patch, "-p1", "--quiet", "--no-backup-if-mismatch")
			cmd.Dir, cmd.Stdin = dir, bytes.NewReader(d.Bytes())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("case %d: patch refuses the diff: %v\n%s\ndiff:\n%s", i, err, out, d.String())
			}
			if patched, _ := os.ReadFile(filepath.Join(dir, "f.yaml")); !bytes.Equal(patched, want) {
				t.Fatalf("case %d: patch makes\n%q\nwant\n%q", i, patched, want)
			}
		}
	}
}

// The diff of a pinned file reads as a person expects: each changed line
// once, an inserted line as one +, three lines of context.
func TestWriteDiff(t *testing.T) {
	old := []byte("a: 1\nb: 2\nc: 3\n  image: nginx:1.25\nd: 4\ne: 5\nf: 6\ng: 7\n")
	at := bytes.Index(old, []byte("1.25")) + 4
	end := bytes.Index(old, []byte("d: 4"))
	var d bytes.Buffer
	if err := WriteDiff(&d, "deploy/app.yaml", old, []Edit{{at, at, "@sha256:abc"}, {end, end, "  imagePullPolicy: IfNotPresent\n"}}); err != nil {
		t.Fatal(err)
	}
	want := `--- a/deploy/app.yaml
+++ b/deploy/app.yaml
@@ -1,7 +1,8 @@
 a: 1
 b: 2
 c: 3
-  image: nginx:1.25
+  image: nginx:1.25@sha256:abc
+  imagePullPolicy: IfNotPresent
 d: 4
 e: 5
 f: 6
`
	if d.String() != want {
		t.Errorf("got\n%s\nwant\n%s", d.String(), want)
	}
}

var hunkRE = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$`)

// applyUnified applies a unified diff strictly: every context and removed
// line must be the old file's, every count must hold.
func applyUnified(diff string, old []byte) (string, error) {
	var lines []string // old, each with its newline
	for rest := string(old); rest != ""; {
		n := strings.IndexByte(rest, '\n') + 1
		if n == 0 {
			n = len(rest)
		}
		lines, rest = append(lines, rest[:n]), rest[n:]
	}
	dl := strings.SplitAfter(diff, "\n")
	if len(dl) < 2 || !strings.HasPrefix(dl[0], "--- a/") || !strings.HasPrefix(dl[1], "+++ b/") {
		return "", fmt.Errorf("no header")
	}
	var out strings.Builder
	at := 0
	for i := 2; i < len(dl) && dl[i] != ""; {
		m := hunkRE.FindStringSubmatch(strings.TrimSuffix(dl[i], "\n"))
		if m == nil {
			return "", fmt.Errorf("line %d: not a hunk header: %q", i+1, dl[i])
		}
		count := func(s string) int {
			if s == "" {
				return 1
			}
			n, _ := strconv.Atoi(s)
			return n
		}
		from, oldN, newN := count(m[1]), count(m[2]), count(m[4])
		if oldN > 0 {
			from--
		}
		if from < at {
			return "", fmt.Errorf("hunk at %d goes back", from)
		}
		for ; at < from; at++ {
			out.WriteString(lines[at])
		}
		i++
		for oldN > 0 || newN > 0 {
			if i >= len(dl) || dl[i] == "" {
				return "", fmt.Errorf("hunk cut short")
			}
			l := dl[i]
			i++
			text := l[1:]
			if i < len(dl) && dl[i] == "\\ No newline at end of file\n" {
				text = strings.TrimSuffix(text, "\n")
				i++
			}
			switch l[0] {
			case ' ', '-':
				if at >= len(lines) || lines[at] != text {
					return "", fmt.Errorf("line %d of the old file is %q, the diff says %q", at+1, lines[min(at, len(lines)-1)], text)
				}
				if l[0] == ' ' {
					out.WriteString(text)
					newN--
				}
				at++
				oldN--
			case '+':
				out.WriteString(text)
				newN--
			default:
				return "", fmt.Errorf("unexpected line %q", l)
			}
		}
		if oldN != 0 || newN != 0 {
			return "", fmt.Errorf("counts do not hold")
		}
	}
	for ; at < len(lines); at++ {
		out.WriteString(lines[at])
	}
	return out.String(), nil
}
