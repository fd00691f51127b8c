package checkout

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func write(t *testing.T, root, rel, data string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

type globFilter struct{ skipDir, skipFile string }

func (f globFilter) File(rel string) bool {
	return f.skipFile == "" || !strings.HasSuffix(rel, f.skipFile)
}
func (f globFilter) Dir(rel string) bool { return f.skipDir == "" || rel != f.skipDir }

func gitTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write(t, root, ".git/HEAD", "ref: refs/heads/main\n")
	write(t, root, ".git/config", "")
	write(t, root, ".git/info/exclude", "local-only.yaml\n")
	write(t, root, ".gitignore", "# build output\n/dist/\n*.generated.yaml\n!keep.generated.yaml\n")
	write(t, root, "deploy/app.yaml", "a")
	write(t, root, "deploy/.gitignore", "secret.yaml\n")
	write(t, root, "deploy/secret.yaml", "s")
	write(t, root, "deploy/x.generated.yaml", "g")
	write(t, root, "deploy/keep.generated.yaml", "k")
	write(t, root, "dist/out.yaml", "d")
	write(t, root, "local-only.yaml", "l")
	write(t, root, "Dockerfile", "FROM x")
	write(t, root, "vendor/lib/x.yaml", "v")
	if err := os.Symlink(filepath.Join(root, "deploy"), filepath.Join(root, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "passwd.yaml")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestFilesFollowsGitIgnoreAndSkipsSymlinks(t *testing.T) {
	root := gitTree(t)
	loc, err := Locate(filepath.Join(root, "deploy"), []string{"."})
	if err != nil || !loc.Git || loc.Root != root {
		t.Fatalf("Locate = %+v %v", loc, err)
	}
	co, err := Open(loc.Root, loc.Git)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	got, err := co.Files([]string{"."}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".gitignore", "Dockerfile", "deploy/.gitignore", "deploy/app.yaml", "deploy/keep.generated.yaml", "vendor/lib/x.yaml"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Files = %v\nwant    %v", got, want)
	}
	// a walk that starts below the root still honours the root's rules
	got, _ = co.Files([]string{"deploy"}, nil)
	if want := []string{"deploy/.gitignore", "deploy/app.yaml", "deploy/keep.generated.yaml"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Files(deploy) = %v, want %v", got, want)
	}
	// a file named explicitly is taken whatever the ignore rules say
	got, _ = co.Files([]string{"deploy/secret.yaml", "deploy/secret.yaml"}, nil)
	if want := []string{"deploy/secret.yaml"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Files(explicit) = %v", got)
	}
	got, _ = co.Files([]string{"."}, globFilter{skipDir: "vendor", skipFile: ".gitignore"})
	if want := []string{"Dockerfile", "deploy/app.yaml", "deploy/keep.generated.yaml"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Files(filter) = %v", got)
	}
	if _, err := co.Files([]string{"passwd.yaml"}, nil); err == nil {
		t.Error("a symlink named explicitly was accepted")
	}
}

func TestOutsideGitEverythingCounts(t *testing.T) {
	root := t.TempDir()
	write(t, root, ".gitignore", "*.yaml\n")
	write(t, root, "a.yaml", "a")
	co, err := Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	got, _ := co.Files([]string{"."}, nil)
	if want := []string{".gitignore", "a.yaml"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Files = %v", got)
	}
}

func TestWriteFileIsAtomicKeepsModeAndRefusesSymlinks(t *testing.T) {
	root := gitTree(t)
	co, _ := Open(root, true)
	defer co.Close()
	p := filepath.Join(root, "deploy", "app.yaml")
	if err := os.Chmod(p, 0o751); err != nil {
		t.Fatal(err)
	}
	old, _, err := co.ReadFile("deploy/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := co.WriteFile("deploy/app.yaml", old, []byte("new bytes")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(data) != "new bytes" || fi.Mode().Perm() != 0o751 {
		t.Errorf("after write: %q mode %v", data, fi.Mode())
	}
	if got, mode, err := co.ReadFile("deploy/app.yaml"); err != nil || string(got) != "new bytes" || mode.Perm() != 0o751 {
		t.Errorf("ReadFile = %q %v %v", got, mode, err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "deploy"))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".pinbot-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
	if err := co.WriteFile("passwd.yaml", nil, []byte("x")); !errors.Is(err, ErrNotRegular) {
		t.Errorf("writing through a symlink: %v", err)
	}
	if err := co.WriteFile("linkdir/app.yaml", nil, []byte("x")); err == nil {
		t.Error("writing through a symlinked directory succeeded")
	}
	if err := co.WriteFile("../outside.yaml", nil, []byte("x")); err == nil {
		t.Error("writing outside the root succeeded")
	}
	if _, _, err := co.ReadFile("passwd.yaml"); err == nil {
		t.Error("reading through a symlink out of the root succeeded")
	}
}

func TestRemoteURL(t *testing.T) {
	root := gitTree(t)
	write(t, root, ".git/config", "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = git@github.com:acme/shop.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n")
	co, _ := Open(root, true)
	defer co.Close()
	if u, err := co.RemoteURL("origin"); err != nil || u != "git@github.com:acme/shop.git" {
		t.Errorf("RemoteURL = %q %v", u, err)
	}
	if _, err := co.RemoteURL("upstream"); err == nil {
		t.Error("a missing remote was found")
	}
	// a linked work tree: .git is a file pointing into the main repository
	linked := t.TempDir()
	write(t, root, ".git/worktrees/feature/commondir", "../..\n")
	write(t, linked, ".git", "gitdir: "+filepath.Join(root, ".git", "worktrees", "feature")+"\n")
	co2, _ := Open(linked, true)
	defer co2.Close()
	if u, err := co2.RemoteURL("origin"); err != nil || u != "git@github.com:acme/shop.git" {
		t.Errorf("linked work tree: RemoteURL = %q %v", u, err)
	}
}

// TestFilesWideTree: a tree of more directories than are read at once,
// nested several deep, with ignore rules at each level: a deeper rule
// overrides a higher one in its own directory only, and a sibling's rules
// never reach across. The list is what the rules say, and what git says
// where git is installed.
func TestFilesWideTree(t *testing.T) {
	root := t.TempDir()
	_, lookErr := exec.LookPath("git")
	if lookErr == nil {
		if out, err := exec.Command("git", "init", "-q", root).CombinedOutput(); err != nil {
			t.Fatalf("git init: %v %s", err, out)
		}
	} else {
		write(t, root, ".git/HEAD", "ref: refs/heads/main\n")
	}
	write(t, root, ".git/info/exclude", "local-only.yaml\n")
	write(t, root, "local-only.yaml", "l")
	write(t, root, ".gitignore", "*.tmp.yaml\n")
	want := []string{".gitignore"}
	for i := 0; i < 3*walkJobs; i++ {
		d := fmt.Sprintf("svc%02d", i)
		write(t, root, d+"/app.yaml", "a")
		write(t, root, d+"/app.tmp.yaml", "t")
		write(t, root, d+"/deep/er/still/app.yaml", "a")
		want = append(want, d+"/app.yaml")
		switch i % 3 {
		case 0: // takes the root's rule back for its own tree
			write(t, root, d+"/deep/.gitignore", "!*.tmp.yaml\n")
			write(t, root, d+"/deep/er/x.tmp.yaml", "t")
			want = append(want, d+"/deep/.gitignore", d+"/deep/er/x.tmp.yaml", d+"/deep/er/still/app.yaml")
		case 1: // ignores a directory name in its own tree only
			write(t, root, d+"/.gitignore", "still/\n")
			want = append(want, d+"/.gitignore")
		default:
			want = append(want, d+"/deep/er/still/app.yaml")
		}
	}
	sort.Strings(want)
	co, err := Open(root, true)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	got, err := co.Files([]string{"."}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Files = %v\nwant    %v", got, want)
	}
	if lookErr == nil {
		cmd := exec.Command("git", "ls-files", "--others", "--exclude-standard")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git ls-files: %v", err)
		}
		byGit := strings.Fields(string(out))
		sort.Strings(byGit)
		if !reflect.DeepEqual(got, byGit) {
			t.Errorf("Files = %v\ngit says %v", got, byGit)
		}
	}
	// what else the walk saw: the directories it read (not those ignored),
	// and the files of a name asked about, ignored or not
	l, err := co.Walk([]string{"."}, nil, "app.tmp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.Files, got) || len(l.Also) != 3*walkJobs || l.Also[0] != "svc00/app.tmp.yaml" {
		t.Errorf("Walk: %d files, also %v", len(l.Files), l.Also)
	}
	if !l.Dirs["."] || !l.Dirs["svc00/deep/er/still"] || l.Dirs["svc01/deep/er/still"] || l.Dirs[".git"] {
		t.Errorf("Walk read %v", l.Dirs)
	}
	// a walk from below the root takes in the rules above it
	got, _ = co.Files([]string{"svc00/deep", "svc01"}, nil)
	if want := []string{"svc00/deep/.gitignore", "svc00/deep/er/still/app.yaml", "svc00/deep/er/x.tmp.yaml", "svc01/.gitignore", "svc01/app.yaml"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Files(svc00/deep, svc01) = %v", got)
	}
}
