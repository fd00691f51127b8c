package main

import (
	"bytes"
	"os"
	"testing"
)

// TestProgressOnlyOnATerminal: progress is drawn only when standard error
// is a terminal and the report is text with nothing logged; never into a
// pipe, a file, JSON, SARIF or --verbose's log.
func TestProgressOnlyOnATerminal(t *testing.T) {
	file, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, tc := range []struct {
		name    string
		output  string
		verbose bool
		stderr  any
	}{
		{"a buffer", "text", false, &bytes.Buffer{}},
		{"a file", "text", false, file},
		{"json", "json", false, file},
		{"verbose", "text", true, file},
	} {
		cmd := newRootCmd()
		if w, ok := tc.stderr.(*bytes.Buffer); ok {
			cmd.SetErr(w)
		} else {
			cmd.SetErr(tc.stderr.(*os.File))
		}
		f := &pinFlags{g: &globals{verbose: tc.verbose}, output: tc.output}
		if f.progressFor(cmd) != nil {
			t.Errorf("%s: progress would be drawn", tc.name)
		}
	}
}
