package report

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

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

// code is s as inline code in a Markdown table cell (safetext.MarkdownCode).
func code(s string) string { return safetext.MarkdownCode(s) }

// cell is s as plain text in a Markdown table cell or list item
// (safetext.MarkdownText).
func cell(s string) string { return safetext.MarkdownText(s) }

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
