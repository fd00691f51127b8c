// Package yamlerr reads the line out of a YAML parser's error message.
//
// go.yaml.in/yaml/v3 reports its parser's errors ("did not find expected
// ',' or ']'") with the 0-based line of the construct it was parsing: one
// line too early. Its scanner's errors ("found character that cannot start
// any token") carry the right, 1-based line. Split corrects the first and
// keeps the second.
package yamlerr

import (
	"regexp"
	"strconv"
	"strings"
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

// SplitIn is Split for an error about data: a line past the last one that
// holds anything (an error at the end of the input) is that last line.
func SplitIn(err error, data []byte) (line int, msg string) {
	line, msg = Split(err)
	if line == 0 {
		return 0, msg
	}
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
