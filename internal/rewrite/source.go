package rewrite

import (
	"bytes"
	"regexp"
	"sync"
	"unicode/utf8"
)

var bom = []byte("\ufeff")

// source is a file's original bytes with an index from the parser's
// line/column positions back to byte offsets.
//
// Positions follow the YAML parser: lines are 1-based and end at LF, CRLF, a
// lone CR, NEL, LS or PS; columns are 1-based and count characters, not bytes;
// a leading UTF-8 byte order mark is not part of line 1.
type source struct {
	data []byte
	mu   sync.Mutex
	// index is the byte offset where each line starts; index[0] is line 1.
	// It is made when first asked, and dropped once the scan is done (see
	// File.Scanned): a tree of many thousand files keeps none of theirs.
	index []int
	// marked: the file holds "pinbot:ignore" somewhere (most hold none,
	// and need no line looked at for it).
	marked bool
}

func newSource(data []byte) *source {
	return &source{data: data, marked: bytes.Contains(data, []byte("pinbot:ignore"))}
}

// lines is the index of line starts, made when first asked.
func (s *source) lines() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index == nil {
		s.index = lineIndex(s.data)
	}
	return s.index
}

// drop lets the index go; lines makes it again if asked.
func (s *source) drop() {
	s.mu.Lock()
	s.index = nil
	s.mu.Unlock()
}

// lineIndex is the byte offset where each line of data starts.
func lineIndex(data []byte) []int {
	start := 0
	if bytes.HasPrefix(data, bom) {
		start = len(bom)
	}
	lines := make([]int, 1, bytes.Count(data, []byte{'\n'})+2)
	lines[0] = start
	rest := data[start:]
	if bytes.IndexByte(rest, '\r') < 0 && bytes.IndexByte(rest, 0xC2) < 0 && bytes.IndexByte(rest, 0xE2) < 0 {
		// LF is the only line break: find each at once.
		for i := start; ; {
			j := bytes.IndexByte(data[i:], '\n')
			if j < 0 {
				return lines
			}
			i += j + 1
			lines = append(lines, i)
		}
	}
	for i := start; i < len(data); {
		if !breakStart[data[i]] {
			i++
			continue
		}
		n := breakLen(data, i)
		if n == 0 {
			i++
			continue
		}
		i += n
		lines = append(lines, i)
	}
	return lines
}

// breakStart marks the bytes a line break may start with.
var breakStart = [256]bool{'\n': true, '\r': true, 0xC2: true, 0xE2: true}

// breakLen is the length of the line break at data[i], or 0.
func breakLen(data []byte, i int) int {
	switch data[i] {
	case '\n':
		return 1
	case '\r':
		if i+1 < len(data) && data[i+1] == '\n' {
			return 2
		}
		return 1
	case 0xC2:
		if i+1 < len(data) && data[i+1] == 0x85 { // NEL
			return 2
		}
	case 0xE2:
		if i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xA8 || data[i+2] == 0xA9) { // LS, PS
			return 3
		}
	}
	return 0
}

// offset is the byte offset of a 1-based line and character column.
func (s *source) offset(line, col int) (int, bool) {
	lines := s.lines()
	if line < 1 || line > len(lines) || col < 1 {
		return 0, false
	}
	off := lines[line-1]
	if end := off + col - 1; end <= len(s.data) && asciiLine(s.data[off:end]) {
		return end, true // one byte a character
	}
	for c := 1; c < col; c++ {
		if off >= len(s.data) || breakLen(s.data, off) > 0 {
			return 0, false
		}
		_, w := utf8.DecodeRune(s.data[off:])
		off += w
	}
	return off, true
}

// asciiLine reports whether text is ASCII with no CR or LF.
func asciiLine(text []byte) bool {
	for _, c := range text {
		if c >= utf8.RuneSelf || c == '\n' || c == '\r' {
			return false
		}
	}
	return true
}

// lineOf is the 1-based line holding byte offset off.
func (s *source) lineOf(off int) int {
	lines := s.lines()
	lo, hi := 0, len(lines)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if lines[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1
}

// columnOf is the 1-based character column of byte offset off.
func (s *source) columnOf(off int) int {
	start := s.lines()[s.lineOf(off)-1]
	if off < start { // inside a byte order mark
		return 1
	}
	return utf8.RuneCount(s.data[start:off]) + 1
}

// lineEnd is the offset just past the line break that ends the line holding
// off, and that break ("" at the end of a file without a final newline).
func (s *source) lineEnd(off int) (int, string) {
	for i := off; i < len(s.data); i++ {
		if n := breakLen(s.data, i); n > 0 {
			return i + n, string(s.data[i : i+n])
		}
	}
	return len(s.data), ""
}

// text is line's content without its line break.
func (s *source) text(line int) []byte {
	lines := s.lines()
	if line < 1 || line > len(lines) {
		return nil
	}
	start := lines[line-1]
	end := len(s.data)
	if line < len(lines) {
		end = lines[line]
	}
	for end > start && (s.data[end-1] == '\n' || s.data[end-1] == '\r') {
		end--
	}
	return s.data[start:end]
}

// eol is the file's first line break, the one to use where a line is added
// after a last line that has none.
func (s *source) eol() string {
	for i := range s.data {
		if n := breakLen(s.data, i); n > 0 {
			return string(s.data[i : i+n])
		}
	}
	return "\n"
}

var ignoreRE = regexp.MustCompile(`(^|\s)#.*\bpinbot:ignore\b`)
var commentLineRE = regexp.MustCompile(`^\s*#`)

// ignored reports a "# pinbot:ignore" comment on the line or in the block of
// comment lines directly above it.
func (s *source) ignored(line int) bool {
	if !s.marked {
		return false
	}
	if ignoreRE.Match(s.text(line)) {
		return true
	}
	for l := line - 1; l >= 1; l-- {
		t := s.text(l)
		if !commentLineRE.Match(t) {
			return false
		}
		if ignoreRE.Match(t) {
			return true
		}
	}
	return false
}
