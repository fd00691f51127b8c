package report

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/pinbot/pinbot/internal/safetext"
)

// Every string a report shows comes from a checkout (paths, references as
// written, skip reasons that quote them) or from a registry (errors): none
// is trusted. Each sink has one escaper here, and no renderer writes such a
// string without it.
//
//	terminal text        Term, TermPath
//	workflow commands    escapeData, escapeProperty (github.go)
//	$GITHUB_OUTPUT       outputLine
//	Markdown             code, cell
//	SARIF, JSON          encoding/json, after Clip

// MaxText is the most characters of one untrusted string a report shows.
const MaxText = safetext.MaxText

// Term is s for a terminal or a log, on one line (see safetext.Term).
func Term(s string) string { return safetext.Term(s) }

// Clip cuts s to MaxText characters (see safetext.Clip).
func Clip(s string) string { return safetext.Clip(s) }

// TermPath is a slash path for the start of a terminal line: Term, and
// spelled "./path" when it would start with something a reader of the line
// takes for more than a path (a workflow command's "::", a dash, a space).
func TermPath(p string) string {
	p = Term(p)
	if p != "" && strings.ContainsRune(":- \t#", rune(p[0])) {
		return "./" + p
	}
	return p
}

// code is s as inline code in a Markdown table cell: one line, pipes
// escaped as GitHub's tables want even inside code, and fenced with more
// backticks than s holds in a row.
func code(s string) string {
	if s == "" {
		return ""
	}
	s = Term(s)
	s = strings.ReplaceAll(s, "|", `\|`)
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// markdownSpecial are the ASCII characters that Markdown (and GitHub's
// extensions to it) read as syntax inside a line: emphasis, code, links and
// images, tables, strikethrough and math. Each is written backslash-escaped.
const markdownSpecial = "\\`*_[]|~$"

// cell is s as plain text in a Markdown table cell or list item: one line,
// clipped, every character that Markdown or HTML would read as syntax
// escaped, and no @mention or #reference that GitHub would link (and
// notify) for.
func cell(s string) string {
	s = Term(strings.Join(strings.Fields(s), " "))
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '@' || (r == '#' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9'):
			// a zero-width space after it: GitHub links no mention or issue
			b.WriteRune(r)
			b.WriteString("&#8203;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case r < utf8.RuneSelf && strings.ContainsRune(markdownSpecial, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// outputLine is one step output for $GITHUB_OUTPUT: name=value, or, for a
// value that spans lines, the delimited form with a delimiter the value
// cannot hold.
func outputLine(name, value string) string {
	if !strings.ContainsAny(value, "\r\n") {
		return name + "=" + value + "\n"
	}
	for {
		var rnd [16]byte
		rand.Read(rnd[:])
		delim := "ghadelimiter_" + hex.EncodeToString(rnd[:])
		if !strings.Contains(value, delim) {
			return name + "<<" + delim + "\n" + value + "\n" + delim + "\n"
		}
	}
}
