package rewrite

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/tailscale/hujson"
)

// Dev containers: .devcontainer/devcontainer.json (or a named
// configuration below .devcontainer/, or .devcontainer.json at the root)
// names the image the container starts from. The file is JSON with
// comments and trailing commas: it is parsed to find the value's bytes, and
// never re-serialised.

const KindDevcontainer Kind = "devcontainer" // devcontainer.json image

var hujsonLineRE = regexp.MustCompile(`^line (\d+), column \d+: `)

func isDevcontainer(n fileName, _ *Context) bool {
	base, dir := n.base, n.dir
	switch {
	case base == ".devcontainer.json":
		return true
	case base != "devcontainer.json":
		return false
	}
	return path.Base(dir) == ".devcontainer" || path.Base(path.Dir(dir)) == ".devcontainer"
}

// maxJSONDepth bounds the nesting of a JSON file pinbot reads: its parser
// recurses once per level, and a hostile file of nothing but "[" would
// otherwise take the process down.
const maxJSONDepth = 1000

// tooDeep is the line where data, read as JSON with comments, first nests
// deeper than max; 0 when it never does.
func tooDeep(data []byte, max int) int {
	depth, line := 0, 1
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
		case '[', '{':
			if depth++; depth > max {
				return line
			}
		case ']', '}':
			depth--
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				} else if data[i] == '\n' {
					line++
				}
			}
		case '/':
			switch {
			case i+1 < len(data) && data[i+1] == '/':
				for i < len(data) && data[i] != '\n' {
					i++
				}
				i-- // the newline counts
			case i+1 < len(data) && data[i+1] == '*':
				for i += 2; i+1 < len(data) && !(data[i] == '*' && data[i+1] == '/'); i++ {
					if data[i] == '\n' {
						line++
					}
				}
				i++
			}
		}
	}
	return 0
}

func (f *File) scanDevcontainer() error {
	data := f.Data
	if bytes.HasPrefix(data, bom) { // hujson reads no byte order mark: spaces keep the offsets
		data = append([]byte("   "), data[len(bom):]...)
	}
	if line := tooDeep(data, maxJSONDepth); line > 0 {
		return &ParseError{Line: line, Msg: fmt.Sprintf("nested more than %d levels deep: not read", maxJSONDepth)}
	}
	v, err := hujson.Parse(data)
	if err != nil {
		pe := &ParseError{Msg: strings.TrimPrefix(err.Error(), "hujson: ")}
		if m := hujsonLineRE.FindStringSubmatch(pe.Msg); m != nil {
			pe.Line, _ = strconv.Atoi(m[1])
			pe.Msg = strings.TrimPrefix(pe.Msg, m[0])
		}
		return pe
	}
	img := v.Find("/image")
	if img == nil {
		return nil
	}
	lit, ok := img.Value.(hujson.Literal)
	if !ok || lit.Kind() != '"' {
		return nil
	}
	start, end := img.StartOffset, img.EndOffset
	s := &Site{Kind: KindDevcontainer, Written: lit.String(), Line: f.src.lineOf(start), Column: f.src.columnOf(start) + 1}
	if raw := f.Data[start:end]; len(raw) >= 2 && bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 {
		s.ref = span{start: start + 1, end: end - 1, valid: true}
		s.Column = f.src.columnOf(s.ref.start)
	} else {
		s.skip(ReasonUneditable + ": a string with escapes")
	}
	if f.src.ignored(s.Line) {
		s.skip(ReasonIgnored)
	}
	s.parse(f)
	f.Sites = append(f.Sites, s)
	return nil
}
