// Package yamlerr reads the line out of a YAML parser's error message.
//
// go.yaml.in/yaml/v3 reports its parser's errors ("did not find expected
// ',' or ']'") with the 0-based line of the construct it was parsing: one
// line too early. Its scanner's errors ("found character that cannot start
// any token") carry the right, 1-based line. Split corrects the first and
// keeps the second.
package yamlerr

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// Split returns the 1-based line an error names (0 when none) and its
// message without the "yaml: line N:" prefix.
func Split(err error) (line int, msg string) {
	s := err.Error()
	m := lineRE.FindStringSubmatch(s)
	if m == nil {
		return 0, strings.TrimPrefix(s, "yaml: ")
	}
	line, _ = strconv.Atoi(m[1])
	msg = strings.TrimPrefix(s, m[0])
	if strings.HasPrefix(msg, "did not find expected") {
		line++
	}
	return line, msg
}

// SplitIn is Split for an error about data, naming the line where the
// problem is. The parser names the line of the construct it was reading
// (a mapping begun lines before a stray item); the problem is on the first
// line at which the document, read up to there, fails the same way. A
// line past the last one that holds anything (an error at the end of the
// input) is that last line.
func SplitIn(err error, data []byte) (line int, msg string) {
	line, msg = Split(err)
	if line == 0 {
		return 0, msg
	}
	line = probe(data, line, msg)
	last := 0
	n := 1
	for i, b := range data {
		switch {
		case b == '\n' || (b == '\r' && (i+1 == len(data) || data[i+1] != '\n')):
			n++ // LF, CRLF and a lone CR end a line, as YAML counts them
		case b != '\r' && b != ' ' && b != '\t':
			last = n
		}
	}
	if last > 0 && line > last {
		line = last
	}
	return line, msg
}

// The prefixes probe reads: at most this many lines on from the line the
// parser named, and this many bytes in all.
const (
	probeLines = 1000
	probeBytes = 64 << 20
)

// probe is the first line, from the one the parser named on, at which data
// read up to and including that line fails with msg; named when none does.
func probe(data []byte, named int, msg string) int {
	// the offset just past each line
	var ends []int
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	read := 0
	// from the line before: the parser's own line may be one past an
	// unclosed bracket
	for l := max(named-1, 1); l <= len(ends) && l < named+probeLines; l++ {
		prefix := data[:ends[l-1]]
		if read += len(prefix); read > probeBytes {
			break
		}
		err := parseAll(prefix)
		if err == nil {
			continue
		}
		if _, m := Split(err); m == msg {
			return l
		}
	}
	return named
}

// parseAll reads every document of data, and tells the first error.
func parseAll(data []byte) error {
	d := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := d.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
