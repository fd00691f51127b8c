package rewrite

import (
	"os"
	"strings"
	"testing"
)

const readmeHead = "| file | places |\n| --- | --- |\n"

// markdownTable is the table of formats as the README shows it.
func markdownTable() string {
	var b strings.Builder
	b.WriteString(readmeHead)
	for _, r := range Table() {
		b.WriteString("| " + r.Files + " | " + r.Places + " |\n")
	}
	return b.String()
}

// TestREADMETable: the formats page's "Where images are found" is the table of
// formats (go test -run TestREADMETable -update rewrites it).
func TestREADMETable(t *testing.T) {
	const path = "../../docs/formats.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	start := strings.Index(readme, readmeHead)
	if start < 0 {
		t.Fatal("docs/formats.md has no table of where images are found")
	}
	end := start + strings.Index(readme[start:], "\n\n") + 1
	want := markdownTable()
	if got := readme[start:end]; got != want {
		if *update {
			if err := os.WriteFile(path, []byte(readme[:start]+want+readme[end:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("docs/formats.md's table differs from the table of formats; run go test ./internal/rewrite -run TestREADMETable -update\ngot:\n%s\nwant:\n%s", got, want)
	}
}
