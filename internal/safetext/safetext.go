// Package safetext makes untrusted text (from a checkout or a registry)
// safe to show on one line: printable, and short.
package safetext

import (
	"strconv"
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
