// Package docs holds pinbot's documentation pages; its test runs what
// they show.
package docs

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pinbot/pinbot/internal/actions/actionstest"
	"github.com/pinbot/pinbot/internal/config"
	"github.com/pinbot/pinbot/internal/registrytest"
	"github.com/pinbot/pinbot/internal/report"
)

// block is a fenced code block of a page.
type block struct {
	page string
	line int // of its first line
	lang string
	text []string
}

// blocks reads the fenced code blocks of the README and every page here.
func blocks(t *testing.T) []block {
	t.Helper()
	pages, _ := filepath.Glob("*.md")
	pages = append([]string{"../README.md"}, pages...)
	var out []block
	for _, p := range pages {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var cur *block
		for i, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "```") {
				if cur == nil {
					cur = &block{page: p, line: i + 2, lang: strings.TrimSpace(l[3:])}
				} else {
					out, cur = append(out, *cur), nil
				}
				continue
			}
			if cur != nil {
				cur.text = append(cur.text, l)
			}
		}
	}
	return out
}

// commands are a shell block's commands: continued lines joined, comments
// dropped.
func commands(b block) (lines []int, cmds []string) {
	cont := ""
	for i, l := range b.text {
		s := cont + strings.TrimSpace(l)
		if strings.HasSuffix(s, `\`) {
			cont = strings.TrimSuffix(s, `\`)
			continue
		}
		cont = ""
		if k := strings.Index(s, " #"); k >= 0 {
			s = strings.TrimSpace(s[:k])
		}
		if s != "" && !strings.HasPrefix(s, "#") {
			lines, cmds = append(lines, b.line+i), append(cmds, s)
		}
	}
	return lines, cmds
}

var pinbotCmd = regexp.MustCompile(`^(\./)?pinbot(\s|$)`)

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pinbot")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/pinbot")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building pinbot: %v\n%s", err, out)
	}
	return bin
}

// TestShellCommands runs every pinbot command a shell block of the README
// or of a page here shows, in order, as a user would on a checkout: a copy
// of examples/quickstart/repo, whose images an in-process registry serves
// through mirrors (the operator's flags, added to each command). "pinbot
// pr" publishes through GitHub: cmd/pinbot's pr scripts run it end to end
// against a fake GitHub; here the real parser checks its flags. The go
// commands name packages that exist.
func TestShellCommands(t *testing.T) {
	bin := build(t)
	repo := t.TempDir()
	if err := os.CopyFS(repo, os.DirFS("../examples/quickstart/repo")); err != nil {
		t.Fatal(err)
	}
	reg := registrytest.Start()
	defer reg.Close()
	gh := actionstest.New(t) // GitHub, for the actions the workflow names
	images, acts := unpinned(t, bin, repo)
	for _, ref := range images {
		if _, err := reg.Push(ref, 0); err != nil {
			t.Fatalf("pushing %s: %v", ref, err)
		}
	}
	for _, a := range acts {
		repo, ref, _ := strings.Cut(a, "@")
		r := gh.Repo(repo)
		r.Tag(ref, r.Commit(ref))
	}
	t.Setenv("GITHUB_API_URL", gh.URL)
	ran := 0
	for _, b := range blocks(t) {
		if b.lang != "sh" {
			continue
		}
		lines, cmds := commands(b)
		for k, c := range cmds {
			where := b.page + ":" + strconv.Itoa(lines[k])
			fields := strings.Fields(c)
			switch {
			case pinbotCmd.MatchString(c):
				args := fields[1:]
				if len(args) > 0 && args[0] == "pr" {
					args = append(args, "--help")
				} else {
					args = append(args, reg.Flags()...)
				}
				cmd := exec.Command(bin, args...)
				cmd.Dir = repo
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Errorf("%s: %s: %v\n%s", where, c, err, out)
				}
				ran++
			case fields[0] == "go" || strings.Contains(c, " go "):
				for _, f := range fields {
					if strings.HasPrefix(f, "./") {
						if _, err := os.Stat(filepath.Join("..", strings.TrimSuffix(f, "/..."))); err != nil {
							t.Errorf("%s: %s names %s, which does not exist", where, c, f)
						}
					}
				}
			}
		}
	}
	if ran < 4 {
		t.Fatalf("ran %d pinbot commands: the README's quick start shows four", ran)
	}
	// the README's order is pin, then the gate: the gate passes on what pin wrote
	if n, a := unpinned(t, bin, repo); len(n)+len(a) != 0 {
		t.Errorf("after the README's commands, still unpinned: %v %v", n, a)
	}
}

// unpinned asks pinbot, offline, which images lack a digest, and which
// actions (owner/repo@ref) are on a ref.
func unpinned(t *testing.T, bin, dir string) (images, acts []string) {
	t.Helper()
	cmd := exec.Command(bin, "pin", "--check", "--offline", "--output", "json")
	cmd.Dir = dir
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		t.Fatalf("listing references: %v", err)
	}
	var rep report.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	images, acts = rep.Unpinned()
	return images, acts
}

// TestSynopsis: each command the command line page's synopsis names is
// one pinbot has, with the flags it shows.
func TestSynopsis(t *testing.T) {
	bin := build(t)
	found := 0
	for _, b := range blocks(t) {
		if b.page != "cli.md" || b.lang != "" {
			continue
		}
		for i, l := range b.text {
			if !strings.HasPrefix(l, "pinbot ") {
				continue
			}
			found++
			args := []string{strings.Fields(l)[1]}
			for _, f := range regexp.MustCompile(`--[a-z-]+`).FindAllString(l, -1) {
				args = append(args, f+"=x")
			}
			// --help after the flags: the parser still refuses a flag it does not know
			out, err := exec.Command(bin, append(args, "--help")...).CombinedOutput()
			if err != nil && !bytes.Contains(out, []byte("invalid argument")) {
				t.Errorf("cli.md:%d: %s: %v\n%s", b.line+i, l, err, out)
			}
		}
	}
	if found < 4 {
		t.Fatalf("the synopsis shows %d commands", found)
	}
}

// TestConfigurationExample: the configuration page's example, and every
// block a page heads "# .pinbot.yaml", is a .pinbot.yaml pinbot reads,
// strictly.
func TestConfigurationExample(t *testing.T) {
	n := 0
	for _, b := range blocks(t) {
		if b.lang != "yaml" || !(b.page == "configuration.md" || len(b.text) > 0 && b.text[0] == "# .pinbot.yaml") {
			continue
		}
		text := strings.Join(b.text, "\n") + "\n"
		if strings.TrimSpace(regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(text, "")) == "" {
			continue // a comment alone
		}
		n++
		if _, err := config.Parse(".pinbot.yaml", []byte(text)); err != nil {
			t.Errorf("%s:%d: %v", b.page, b.line, err)
		}
	}
	if n < 2 {
		t.Fatalf("%d examples of .pinbot.yaml: the configuration page and the actions page each show one", n)
	}
}

// TestLinks: every relative link of the README and the pages reaches a
// file of the repository.
func TestLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`)
	pages, _ := filepath.Glob("*.md")
	for _, p := range append([]string{"../README.md"}, pages...) {
		data, _ := os.ReadFile(p)
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			target := filepath.Join(filepath.Dir(p), m[1])
			if _, err := os.Stat(target); errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s links to %s, which does not exist", p, m[1])
			}
		}
	}
}
