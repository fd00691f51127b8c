package report

import (
	"bufio"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var hostile = []string{
	"deploy/app.yaml",
	"::error::owned.yaml",
	"a\n::error file=x::injected",
	"a\r\n::warning::x",
	"nginx:1.25\x1b[31mred",
	"evil\u202eyaml.exe",
	"x\u2028::error::y",
	"`code` | pipe | <img src=x onerror=alert(1)> @octocat #123 [link](javascript:alert(1)) **bold** ~~s~~ $x$",
	"%0A%25 100%",
	"- list",
	"ok ☃ ünïcödé",
	strings.Repeat("long ", 400),
	"\xff\xfe invalid utf-8",
}

func TestTermIsOneSafeLine(t *testing.T) {
	for _, s := range hostile {
		got := Term(s)
		if strings.ContainsAny(got, "\r\n\x1b\u202e\u2028") || !utf8.ValidString(got) {
			t.Errorf("Term(%q) = %q", s, got)
		}
		if len([]rune(got)) > MaxText*6+40 {
			t.Errorf("Term(%q) is %d characters", s, len(got))
		}
	}
	if got := Term("deploy/app.yaml"); got != "deploy/app.yaml" {
		t.Errorf("a plain string changed: %q", got)
	}
	if got := TermPath("::error::owned.yaml"); got != "./::error::owned.yaml" {
		t.Errorf("TermPath = %q", got)
	}
}

func TestCodeAndCell(t *testing.T) {
	for _, s := range hostile {
		c := cell(s)
		if strings.ContainsAny(c, "\r\n<>") || unescapedPipe(c) {
			t.Errorf("cell(%q) = %q", s, c)
		}
		if strings.Contains(s, "@octocat") && strings.Contains(c, "@octocat") {
			t.Errorf("cell(%q) keeps a mention: %q", s, c)
		}
		if strings.Contains(s, "#123") && strings.Contains(c, "#123") {
			t.Errorf("cell(%q) keeps an issue reference: %q", s, c)
		}
		k := code(s)
		if strings.ContainsAny(k, "\r\n") || unescapedPipe(k) || !strings.HasPrefix(k, "`") {
			t.Errorf("code(%q) = %q", s, k)
		}
	}
	if got := code("a``b"); got != "```a``b```" {
		t.Errorf("code with backticks = %q", got)
	}
}

func unescapedPipe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '|' && (i == 0 || s[i-1] != '\\') {
			return true
		}
	}
	return false
}

// unescapeData reverses escapeData, as the runner does.
func unescapeData(s string) string {
	return strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%").Replace(s)
}

func unescapeProperty(s string) string {
	return strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%").Replace(s)
}

func TestWorkflowCommandEscapes(t *testing.T) {
	for _, s := range hostile {
		d, p := escapeData(s), escapeProperty(s)
		if strings.ContainsAny(d, "\r\n") || strings.ContainsAny(p, "\r\n:,") {
			t.Errorf("escapes of %q: %q %q", s, d, p)
		}
		if unescapeData(d) != s || unescapeProperty(p) != s {
			t.Errorf("escapes of %q do not round-trip: %q %q", s, unescapeData(d), unescapeProperty(p))
		}
	}
}

// parseOutputs reads $GITHUB_OUTPUT as the runner does.
func parseOutputs(s string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		if name, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(name, "=") {
			var v []string
			for sc.Scan() && sc.Text() != delim {
				v = append(v, sc.Text())
			}
			out[name] = strings.Join(v, "\n")
			continue
		}
		if name, v, ok := strings.Cut(line, "="); ok {
			out[name] = v
		}
	}
	return out
}

func TestOutputLine(t *testing.T) {
	for _, s := range []string{"42", "https://github.example/a/b/pull/7", "a\nb=c\nd<<EOF", "x\nghadelimiter_y"} {
		got := parseOutputs(outputLine("v", s) + outputLine("after", "1"))
		if got["v"] != s || got["after"] != "1" {
			t.Errorf("outputLine(%q) reads back as %q", s, got)
		}
	}
}

func TestURIPath(t *testing.T) {
	for _, p := range []string{"deploy/app.yaml", "a b/#x?.yaml", "100%/ü.yaml", "::error::x.yaml"} {
		u := uriPath(p)
		back, err := url.PathUnescape(u)
		if err != nil || back != p || strings.ContainsAny(u, " #?%:") && !strings.Contains(u, "%") {
			t.Errorf("uriPath(%q) = %q (%q, %v)", p, u, back, err)
		}
		if strings.ContainsAny(u, " #?") {
			t.Errorf("uriPath(%q) = %q holds a URI delimiter", p, u)
		}
	}
}

func FuzzEscapers(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := Term(s); strings.ContainsAny(got, "\r\n\x1b") || !utf8.ValidString(got) {
			t.Fatalf("Term(%q) = %q", s, got)
		}
		if p := TermPath(s); p != "" && strings.ContainsRune(":- \t#", rune(p[0])) {
			t.Fatalf("TermPath(%q) = %q", s, p)
		}
		if c := cell(s); strings.ContainsAny(c, "\r\n<>") || unescapedPipe(c) {
			t.Fatalf("cell(%q) = %q", s, c)
		}
		if k := code(s); strings.ContainsAny(k, "\r\n") || unescapedPipe(k) {
			t.Fatalf("code(%q) = %q", s, k)
		}
		if d := escapeData(s); strings.ContainsAny(d, "\r\n") || unescapeData(d) != s {
			t.Fatalf("escapeData(%q) = %q", s, d)
		}
		if p := escapeProperty(s); strings.ContainsAny(p, "\r\n:,") || unescapeProperty(p) != s {
			t.Fatalf("escapeProperty(%q) = %q", s, p)
		}
		if got := parseOutputs(outputLine("v", s) + outputLine("after", "1")); got["after"] != "1" ||
			(!strings.ContainsAny(s, "\r") && got["v"] != s && !strings.HasSuffix(s, "\n")) {
			t.Fatalf("outputLine(%q) reads back as %q", s, got)
		}
		if u := uriPath(s); strings.ContainsAny(u, " #?") {
			t.Fatalf("uriPath(%q) = %q", s, u)
		} else if back, err := url.PathUnescape(u); err != nil || back != s {
			t.Fatalf("uriPath(%q) = %q does not read back: %q %v", s, u, back, err)
		}
	})
}

// What a certificate or a registry says of a signer reaches the body, the
// terminal and the annotations escaped for each: a signer's identity, its
// issuer, the provenance's source, a policy's problem.
func TestSignatureStringsEscaped(t *testing.T) {
	for _, s := range hostile {
		when := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		sig := &Signature{Status: "signed", Signers: []Signer{{Identity: s, Issuer: s, Time: &when, SourceRepository: s, SourceCommit: s, PredicateType: s, Format: "bundle"}}, Problem: s, Rule: s}
		refused := &Signature{Status: "signed", Signers: sig.Signers, Problem: s, Refused: true}
		r := &Report{Files: 1, Entries: []Entry{
			{File: "a.yaml", Line: 1, Ref: "nginx:1", Image: "nginx", Tag: "1", Digest: "sha256:" + strings.Repeat("a", 64), Pinned: "nginx:1@sha256:" + strings.Repeat("a", 64), Status: Pinned, Signature: sig},
			{File: "a.yaml", Line: 2, Ref: "redis:7", Image: "redis", Tag: "7", Digest: "sha256:" + strings.Repeat("b", 64), Status: Failed, Error: "refused by the signature policy: " + s, Signature: refused},
		}}
		body := r.Body("test")
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "| `nginx`") || strings.HasPrefix(l, "| `redis`") {
				if strings.Contains(l, "\r") || strings.Count(strings.ReplaceAll(l, `\|`, ""), "|") != 7 {
					t.Errorf("%q: the signature row breaks out of its cells:\n%s", s, l)
				}
			}
		}
		var text, ann strings.Builder
		if err := WriteText(&text, r, true); err != nil {
			t.Fatal(err)
		}
		WriteProblems(&text, r)
		for _, l := range strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n") {
			if strings.ContainsAny(l, "\r\x1b\u202e\u2028") || strings.HasPrefix(l, "::") {
				t.Errorf("%q: a terminal line %q", s, l)
			}
		}
		if err := WriteAnnotations(&ann, r, false); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(ann.String(), "\n"), "\n") {
			if !strings.HasPrefix(l, "::") {
				t.Errorf("%q: an annotation spills onto a line of its own: %q", s, l)
			}
		}
	}
}
