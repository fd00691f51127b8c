// Package safetext makes untrusted text (from a checkout or a registry)
// safe to show on one line: printable, and short.
package safetext

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxText is the most characters of one untrusted string shown.
const MaxText = 512

// unsafeRune reports characters a terminal or a log reader must not get raw:
// controls (a newline starts a workflow command; ESC starts a terminal
// sequence), line and paragraph separators, and the bidirectional controls
// that make text read other than it is.
func unsafeRune(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return true
	case unicode.IsControl(r):
		return true
	case r == '\u2028' || r == '\u2029' || r == '\u061c' || r == '\u200e' || r == '\u200f':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

func needsQuoting(s string) bool {
	for _, r := range s {
		if unsafeRune(r) {
			return true
		}
	}
	return false
}

// Term is s for a terminal or a log, on one line: as it is when every
// character is printable, else Go-quoted ("a\nb" shows as "a\nb" with the
// quotes), and clipped to MaxText characters.
func Term(s string) string {
	s = Clip(s)
	if !needsQuoting(s) {
		return s
	}
	return strconv.Quote(s) // escapes every rune strconv.IsPrint refuses
}

// Clip cuts s to MaxText characters, saying how much was left out.
func Clip(s string) string {
	if len(s) <= MaxText {
		return s
	}
	n := 0
	for i := range s {
		if n == MaxText {
			if i == len(s) {
				return s
			}
			return s[:i] + "… (" + strconv.Itoa(len(s)-i) + " more bytes)"
		}
		n++
	}
	return s
}

// MarkdownCode is s as inline code in a Markdown table cell: one line, pipes
// escaped as GitHub's tables want even inside code, and fenced with more
// backticks than s holds in a row.
func MarkdownCode(s string) string {
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

// MarkdownText is s as plain text in a Markdown table cell or list item: one line,
// clipped, every character that Markdown or HTML would read as syntax
// escaped, and no @mention or #reference that GitHub would link (and
// notify) for.
func MarkdownText(s string) string {
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
