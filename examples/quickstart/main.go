// Quickstart builds pinbot and runs it on a small but real repository
// (examples/quickstart/repo: Kubernetes manifests, a kustomization, a compose
// file, a Dockerfile and a GitHub workflow), with no network: the images the
// repository names are served by an in-process registry, which pinbot reaches
// through mirrors, as it would reach a pull-through cache; the action its
// workflow names, by a fake of GitHub's API serving git repositories made
// on the spot.
//
//	go run ./examples/quickstart          # from the repository's root
//	go run ./examples/quickstart -keep    # and keep the pinned copy to look at
//
// On a real repository the same job is just "pinbot pin": references resolve
// against their own registries, with your docker credentials.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pinbot/pinbot/internal/actions/actionstest"
	"github.com/pinbot/pinbot/internal/registrytest"
	"github.com/pinbot/pinbot/internal/report"
)

func main() {
	keep := flag.Bool("keep", false, "keep the temporary directory with the pinned copy")
	flag.Parse()
	if err := run(os.Stdout, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, keep bool) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "pinbot-quickstart")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(tmp)
	}

	bin := filepath.Join(tmp, "pinbot")
	say(w, "$ go build -o %s ./cmd/pinbot", bin)
	build := exec.Command("go", "build", "-o", bin, "./cmd/pinbot")
	build.Dir, build.Stdout, build.Stderr = root, w, w
	if err := build.Run(); err != nil {
		return fmt.Errorf("building pinbot: %w", err)
	}

	repo := filepath.Join(tmp, "repo")
	if err := copyTree(filepath.Join(root, "examples", "quickstart", "repo"), repo); err != nil {
		return err
	}

	// The registry holds every image the repository names, under the names
	// a mirror would use; pinbot's own offline check lists them.
	reg := registrytest.Start()
	defer reg.Close()
	refs, err := listRefs(bin, repo)
	if err != nil {
		return err
	}
	// GitHub, for the actions its workflows name: served from git
	// repositories made here, each ref at a commit of its own
	gh := actionstest.Start(fatal{})
	defer gh.Close()
	for _, a := range actionRefs {
		repo, ref, _ := strings.Cut(a, "@")
		r := gh.Repo(repo)
		r.Tag(ref, r.Commit(ref))
	}
	os.Setenv("GITHUB_API_URL", gh.URL)
	for i, ref := range refs {
		push := reg.Push
		if i%2 == 0 {
			push = reg.PushIndex // multi-platform: the index digest is what gets pinned
		}
		if _, err := push(ref, 0); err != nil {
			return fmt.Errorf("pushing %s: %w", ref, err)
		}
	}
	cfg := filepath.Join(tmp, "mirrors.yaml")
	if err := os.WriteFile(cfg, []byte(mirrorConfig(reg.Flags())), 0o644); err != nil {
		return err
	}
	say(w, "An in-process registry at %s serves the %d images %s names, and a fake GitHub at %s\n(GITHUB_API_URL) the actions its workflow names. pinbot reaches the registry through mirrors (%s):", reg.Host, len(refs), "examples/quickstart/repo", gh.URL, cfg)
	data, _ := os.ReadFile(cfg)
	fmt.Fprint(w, indent(string(data)))

	steps := []struct {
		note string
		args []string
	}{
		{"What is not pinned? (--check: the CI gate; exits 1)", []string{"pin", "--check"}},
		{"What would change? (--diff: writes nothing)", []string{"pin", "--diff"}},
		{"Pin it:", []string{"pin"}},
		{"Again: nothing to do, and the gate passes.", []string{"pin", "--check"}},
	}
	for _, s := range steps {
		if err := pinbot(w, bin, repo, cfg, s.note, s.args...); err != nil {
			return err
		}
	}
	if _, err := reg.Push("redis:7.2", 1); err != nil {
		return err
	}
	if err := pinbot(w, bin, repo, cfg, "Upstream, redis:7.2 now points at new bytes. The next run renews its digest:", "pin"); err != nil {
		return err
	}

	fmt.Fprintln(w)
	if keep {
		fmt.Fprintf(w, "The pinned repository is in %s.\n", repo)
	}
	fmt.Fprintln(w, `On a real checkout the same job is just:

    pinbot pin              # pin every image, in place
    pinbot pin --check      # in CI: fail while anything is unpinned or stale
    pinbot pr               # from a scheduled workflow: one pull request, kept current`)
	return nil
}

func say(w io.Writer, format string, args ...any) { fmt.Fprintf(w, "\n"+format+"\n", args...) }

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// pinbot runs the binary in dir with the mirror configuration and shows it.
func pinbot(w io.Writer, bin, dir, cfg, note string, args ...string) error {
	args = append(args, "--config", cfg)
	say(w, "%s\n$ pinbot %s", note, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, w, w
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && args[1] == "--check" && ee.ExitCode() == 1 {
		fmt.Fprintln(w, "(exit status 1)")
		return nil
	}
	return err
}

// fatal stops the quick start, for the fake GitHub.
type fatal struct{}

func (fatal) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"quickstart:"}, args...)...)
	os.Exit(1)
}

// actionRefs are the actions (owner/repo@ref) listRefs found on a ref.
var actionRefs []string

// listRefs asks pinbot, offline, which images lack a digest, and keeps the
// actions on a ref in actionRefs.
func listRefs(bin, dir string) ([]string, error) {
	cmd := exec.Command(bin, "pin", "--check", "--offline", "--output", "json")
	cmd.Dir = dir
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		return nil, fmt.Errorf("listing references: %w", err)
	}
	var rep report.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, err
	}
	var refs []string
	refs, actionRefs = rep.Unpinned()
	sort.Strings(refs)
	return refs, nil
}

// mirrorConfig turns registrytest's flags into a .pinbot.yaml.
func mirrorConfig(flags []string) string {
	var b strings.Builder
	b.WriteString("mirrors:\n")
	var insecure string
	for i := 0; i+1 < len(flags); i += 2 {
		switch flags[i] {
		case "--mirror":
			from, to, _ := strings.Cut(flags[i+1], "=")
			fmt.Fprintf(&b, "  %s: %s\n", from, to)
		case "--insecure-registry":
			insecure = flags[i+1]
		}
	}
	fmt.Fprintf(&b, "insecureRegistries: [%q]\n", insecure)
	return b.String()
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(data), "module github.com/pinbot/pinbot\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run this from inside the pinbot repository")
		}
		dir = parent
	}
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
