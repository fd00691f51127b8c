package rewrite

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/pinbot/pinbot/internal/imageref"
)

// token is a whitespace-separated word of an instruction, as bytes of the file.
type token struct{ start, end int }

var argRefRE = regexp.MustCompile(`^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$`)

// scanDockerfile finds FROM images, COPY --from images, the "# syntax="
// parser directive, and the defaults of global ARGs that a FROM uses whole
// ("ARG BASE=nginx:1.25" ... "FROM $BASE").
func (f *File) scanDockerfile() error {
	res, err := parser.Parse(bytes.NewReader(f.Data))
	if err != nil {
		if strings.Contains(err.Error(), "file with no instructions") {
			return nil // empty, or only comments: nothing to pin
		}
		pe := &ParseError{Msg: err.Error()}
		var le *parser.LocationError
		if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
			pe.Line = le.Locations[0][0].Start.Line
			pe.Msg = le.Unwrap().Error()
		}
		if pe.Line == 0 && strings.Contains(pe.Msg, "heredoc") {
			for l := len(f.src.lines()); l >= 1; l-- {
				if bytes.Contains(f.src.text(l), []byte("<<")) {
					pe.Line = l
					break
				}
			}
		}
		return pe
	}
	w := &dockerWalk{f: f, escape: byte(res.EscapeToken), stages: map[string]bool{}, args: map[string]*Site{}}
	if res.EscapeToken > 0x7f {
		w.escape = '\\'
	}
	w.syntax()
	seenFrom := false
	for _, n := range res.AST.Children {
		switch strings.ToLower(n.Value) {
		case "arg":
			if !seenFrom {
				w.globalArg(n)
			}
		case "from":
			seenFrom = true
			w.from(n)
		case "copy":
			w.copyFrom(n)
		case "run":
			w.runMount(n)
		}
	}
	return nil
}

type dockerWalk struct {
	f      *File
	escape byte
	stages map[string]bool  // stage names so far, lower case
	args   map[string]*Site // global ARG defaults by name, not yet used by a FROM
}

func (w *dockerWalk) add(s *Site) { w.f.Sites = append(w.f.Sites, s) }

// newSite makes a site for written, found at byte span sp of the
// instruction that starts on line; a site whose span was not found is
// placed at that line and skipped.
func (w *dockerWalk) newSite(kind Kind, written string, sp span, line int) *Site {
	s := &Site{Kind: kind, Written: written, ref: sp, Line: line, Column: 1}
	if sp.valid {
		s.Line, s.Column = w.f.src.lineOf(sp.start), w.f.src.columnOf(sp.start)
	} else {
		s.skip(ReasonUneditable)
	}
	if w.f.src.ignored(s.Line) {
		s.skip(ReasonIgnored)
	}
	s.parse(w.f)
	return s
}

// syntax finds "# syntax=docker/dockerfile:1".
func (w *dockerWalk) syntax() {
	val, _, loc, ok := parser.ParseDirective("syntax", w.f.Data)
	if !ok || len(loc) == 0 || val == "" {
		return
	}
	line := loc[0].Start.Line
	text := w.f.src.text(line)
	eq := bytes.IndexByte(text, '=')
	if eq < 0 {
		return
	}
	i := bytes.Index(text[eq:], []byte(val))
	if i < 0 {
		return
	}
	start := w.f.src.lines()[line-1] + eq + i
	w.add(w.newSite(KindDockerfileSyntax, val, span{start: start, end: start + len(val), valid: true}, line))
}

// tokens splits an instruction's lines into words, dropping line
// continuations and the comment lines inside them.
func (w *dockerWalk) tokens(n *parser.Node) []token {
	var out []token
	for line := n.StartLine; line <= n.EndLine && line <= len(w.f.src.lines()); line++ {
		text := w.f.src.text(line)
		base := w.f.src.lines()[line-1]
		if line > n.StartLine && bytes.HasPrefix(bytes.TrimLeft(text, " \t"), []byte("#")) {
			continue
		}
		// a trailing escape character continues the line: it is no part of a word
		trimmed := bytes.TrimRight(text, " \t")
		if len(trimmed) > 0 && trimmed[len(trimmed)-1] == w.escape && line < n.EndLine {
			text = trimmed[:len(trimmed)-1]
		}
		for i := 0; i < len(text); {
			for i < len(text) && isSpace(text[i]) {
				i++
			}
			j := i
			for j < len(text) && !isSpace(text[j]) {
				j++
			}
			if j > i {
				out = append(out, token{base + i, base + j})
			}
			i = j
		}
	}
	return out
}

func (w *dockerWalk) text(t token) string { return string(w.f.src.data[t.start:t.end]) }

// words are the instruction's tokens after the keyword and its --flags.
func (w *dockerWalk) words(n *parser.Node) []token {
	_, words := w.split(n)
	return words
}

func (w *dockerWalk) from(n *parser.Node) {
	if n.Next == nil {
		return
	}
	image := n.Next.Value
	if as := n.Next.Next; as != nil && strings.EqualFold(as.Value, "as") && as.Next != nil {
		defer func() { w.stages[strings.ToLower(as.Next.Value)] = true }()
	}
	if strings.EqualFold(image, "scratch") || w.stages[strings.ToLower(image)] {
		return
	}
	if m := argRefRE.FindStringSubmatch(image); m != nil {
		name := m[1] + m[2]
		if s, ok := w.args[name]; ok {
			if s != nil {
				w.add(s)
				w.args[name] = nil // reported once
			}
			return
		}
	}
	sp := span{}
	if words := w.words(n); len(words) > 0 && w.text(words[0]) == image {
		sp = span{start: words[0].start, end: words[0].end, valid: true}
	}
	w.add(w.newSite(KindDockerfileFrom, image, sp, n.StartLine))
}

func (w *dockerWalk) copyFrom(n *parser.Node) {
	var from string
	for _, fl := range n.Flags {
		if v, ok := strings.CutPrefix(fl, "--from="); ok {
			from = v
		}
	}
	if from == "" || w.stages[strings.ToLower(from)] {
		return
	}
	if _, err := strconv.Atoi(from); err == nil { // a stage by index
		return
	}
	sp := span{}
	for _, t := range w.flags(n) {
		if v, ok := strings.CutPrefix(w.text(t), "--from="); ok && v == from {
			sp = span{start: t.end - len(from), end: t.end, valid: true}
		}
	}
	w.add(w.newSite(KindDockerfileCopy, from, sp, n.StartLine))
}

// flags are the instruction's --flags.
func (w *dockerWalk) flags(n *parser.Node) []token {
	flags, _ := w.split(n)
	return flags
}

// split is the instruction's tokens after the keyword: its --flags, which
// end at its first argument, and the rest. A "--from=" or "--mount=" among
// the arguments (a file's name, a word of a command) is no flag.
func (w *dockerWalk) split(n *parser.Node) (flags, words []token) {
	toks := w.tokens(n)
	if len(toks) > 0 {
		toks = toks[1:]
	}
	i := 0
	for i < len(toks) && strings.HasPrefix(w.text(toks[i]), "--") {
		i++
	}
	return toks[:i], toks[i:]
}

// runMount finds the images RUN --mount=...,from=<image> mounts (a cache,
// bind or secret mount may name one); a stage name is no image.
func (w *dockerWalk) runMount(n *parser.Node) {
	for _, t := range w.flags(n) {
		text := w.text(t)
		opts, ok := strings.CutPrefix(text, "--mount=")
		if !ok {
			continue
		}
		off := t.start + len("--mount=")
		for _, field := range strings.Split(opts, ",") {
			from, ok := strings.CutPrefix(field, "from=")
			if ok && from != "" && !w.stages[strings.ToLower(from)] {
				if _, err := strconv.Atoi(from); err != nil { // a stage by index
					sp := span{start: off + len("from="), end: off + len(field), valid: true}
					if strings.ContainsAny(from, "\"'") {
						sp = span{}
					}
					w.add(w.newSite(KindDockerfileMount, from, sp, n.StartLine))
				}
			}
			off += len(field) + 1
		}
	}
}

// globalArg records the defaults of ARGs declared before the first FROM.
func (w *dockerWalk) globalArg(n *parser.Node) {
	toks := w.tokens(n)
	for a := n.Next; a != nil; a = a.Next {
		name, val, ok := strings.Cut(a.Value, "=")
		if !ok {
			continue
		}
		unq := val
		if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
			unq = val[1 : len(val)-1]
		}
		if unq == "" || imageref.HasVariable(unq) {
			continue
		}
		sp := span{}
		for _, t := range toks {
			if w.text(t) == a.Value {
				start := t.start + len(name) + 1 + (len(val)-len(unq))/2
				sp = span{start: start, end: start + len(unq), valid: true}
			}
		}
		w.args[name] = w.newSite(KindDockerfileArg, unq, sp, n.StartLine)
	}
}
