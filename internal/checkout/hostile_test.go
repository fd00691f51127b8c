//go:build unix

package checkout

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"syscall"
)

// outsideRepo is a git work tree beside the checkout, with a file to pin:
// a hostile checkout may link to it.
func outsideRepo(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	write(t, out, ".git/HEAD", "ref: refs/heads/main\n")
	write(t, out, "sub/pod.yaml", "outside")
	write(t, out, "pod.yaml", "outside")
	return out
}

// TestLocateNeverLeavesTheTree: a path named on the command line that is,
// or passes through, a symlink inside the checkout is refused, even when it
// leads to another git work tree; the root is the tree the path sits in as
// written.
func TestLocateNeverLeavesTheTree(t *testing.T) {
	root := gitTree(t)
	out := outsideRepo(t)
	for name, target := range map[string]string{
		"deploydir":  out,                               // a directory elsewhere
		"podfile":    filepath.Join(out, "pod.yaml"),    // a file elsewhere
		"inside":     filepath.Join(root, "deploy"),     // a directory of the tree itself
		"insidefile": filepath.Join(root, "Dockerfile"), // a file of the tree itself
	} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"deploydir"}, {"deploydir/sub"}, {"deploydir/sub/pod.yaml"}, {"podfile"},
		{"inside"}, {"insidefile"}, {".", "deploydir"}, {filepath.Join(root, "deploydir")},
	} {
		loc, err := Locate(root, args)
		if err == nil {
			t.Errorf("Locate(%q) = %+v, want a refusal", args, loc)
			continue
		}
		if !errors.Is(err, ErrSymlink) {
			t.Errorf("Locate(%q): %v, want ErrSymlink", args, err)
		}
	}
	// From a subdirectory, paths still resolve to the tree's root.
	loc, err := Locate(filepath.Join(root, "deploy"), []string{"app.yaml", "."})
	if err != nil {
		t.Fatal(err)
	}
	if loc.Root != root || !loc.Git || !reflect.DeepEqual(loc.Paths, []string{"deploy/app.yaml", "deploy"}) {
		t.Errorf("Locate = %+v", loc)
	}
	// Symlinks above the tree are the user's: a linked home directory works.
	parent := t.TempDir()
	if err := os.Symlink(filepath.Dir(root), filepath.Join(parent, "home")); err != nil {
		t.Fatal(err)
	}
	viaLink := filepath.Join(parent, "home", filepath.Base(root))
	loc, err = Locate(viaLink, []string{"deploy"})
	if err != nil {
		t.Fatalf("through a link above the tree: %v", err)
	}
	if loc.Root != viaLink || !reflect.DeepEqual(loc.Paths, []string{"deploy"}) {
		t.Errorf("Locate = %+v", loc)
	}
	co, err := Open(loc.Root, loc.Git)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	if files, err := co.Files(loc.Paths, nil); err != nil || len(files) == 0 {
		t.Errorf("Files = %v, %v", files, err)
	}
	// A tree named outside git is the working directory when it holds it.
	plain := t.TempDir()
	write(t, plain, "a/b.yaml", "x")
	if loc, err := Locate(plain, []string{"a"}); err != nil || loc.Root != plain || loc.Git || loc.Paths[0] != "a" {
		t.Errorf("outside git: %+v %v", loc, err)
	}
}

// TestWriteFileLeavesAnEditedFile: a file whose bytes changed after they
// were read is left with the newer bytes, and the write says so.
func TestWriteFileLeavesAnEditedFile(t *testing.T) {
	root := gitTree(t)
	co, _ := Open(root, true)
	defer co.Close()
	old, _, err := co.ReadFile("deploy/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	write(t, root, "deploy/app.yaml", "a human's edit")
	err = co.WriteFile("deploy/app.yaml", old, []byte("pinbot's bytes"))
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("err = %v, want ErrChanged", err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "deploy/app.yaml")); string(data) != "a human's edit" {
		t.Errorf("the edit was lost: %q", data)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "deploy"))
	for _, e := range entries {
		if IsTemp(e.Name()) {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// TestReadFileLimit: a file over the limit is refused with the sizes, and
// the limit is the checkout's to set.
func TestReadFileLimit(t *testing.T) {
	root := t.TempDir()
	write(t, root, "big.yaml", string(make([]byte, 2048)))
	co, _ := Open(root, false)
	defer co.Close()
	co.MaxFileSize = 1024
	var tl *TooLargeError
	if _, _, err := co.ReadFile("big.yaml"); !errors.As(err, &tl) || tl.Size != 2048 || tl.Limit != 1024 {
		t.Errorf("err = %v, want TooLargeError 2048 > 1024", err)
	}
	co.MaxFileSize = 4096
	if data, _, err := co.ReadFile("big.yaml"); err != nil || len(data) != 2048 {
		t.Errorf("under the limit: %d bytes, %v", len(data), err)
	}
}

func TestStaleTempFiles(t *testing.T) {
	root := t.TempDir()
	write(t, root, "deploy/app.yaml", "a")
	write(t, root, "deploy/.app.yaml.pinbot-0123456789ab", "half-written")
	write(t, root, "deploy/.app.yaml.pinbot-notmine", "someone else's")
	co, _ := Open(root, false)
	defer co.Close()
	files, err := co.Files([]string{"."}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"deploy/.app.yaml.pinbot-notmine", "deploy/app.yaml"}; !reflect.DeepEqual(files, want) {
		t.Errorf("Files = %v, want %v", files, want)
	}
	removed, err := co.RemoveTemp(co.Stale())
	if err != nil || !reflect.DeepEqual(removed, []string{"deploy/.app.yaml.pinbot-0123456789ab"}) {
		t.Errorf("RemoveTemp = %v, %v", removed, err)
	}
	if _, err := os.Stat(filepath.Join(root, "deploy/.app.yaml.pinbot-0123456789ab")); !os.IsNotExist(err) {
		t.Error("the stale temporary file is still there")
	}
	if _, err := os.Stat(filepath.Join(root, "deploy/.app.yaml.pinbot-notmine")); err != nil {
		t.Error("a file outside pinbot's naming scheme was removed")
	}
}

// TestWriteFileConcurrently: many files written at once (as pin's sink
// does), each atomically; the one edited since it was read keeps its edit;
// no temporary file stays.
func TestWriteFileConcurrently(t *testing.T) {
	root := t.TempDir()
	var paths []string
	for i := 0; i < 50; i++ {
		p := fmt.Sprintf("d%d/f%d.yaml", i%5, i)
		write(t, root, p, "old")
		paths = append(paths, p)
	}
	write(t, root, "d3/f13.yaml", "edited")
	co, _ := Open(root, false)
	defer co.Close()
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = co.WriteFile(p, []byte("old"), []byte("new "+p))
		}()
	}
	wg.Wait()
	for i, p := range paths {
		data, _ := os.ReadFile(filepath.Join(root, p))
		if p == "d3/f13.yaml" {
			if !errors.Is(errs[i], ErrChanged) || string(data) != "edited" {
				t.Errorf("%s: %v, %q", p, errs[i], data)
			}
			continue
		}
		if errs[i] != nil || string(data) != "new "+p {
			t.Errorf("%s: %v, %q", p, errs[i], data)
		}
	}
	files, _ := co.Files([]string{"."}, nil)
	if len(files) != 50 || len(co.Stale()) != 0 {
		t.Errorf("%d files, stale %v", len(files), co.Stale())
	}
}

// TestReadFileRefuses: what ReadFile must not read. A FIFO in a file's place is refused at once, not waited
// on; a symlink, to a file or a directory, inside the tree or out of it, is
// refused; so are paths that climb out of the root, and directories.
func TestReadFileRefuses(t *testing.T) {
	root := t.TempDir()
	out := outsideRepo(t)
	write(t, root, "deploy/app.yaml", "app")
	write(t, root, "other/b.yaml", "b")
	if err := syscall.Mkfifo(filepath.Join(root, "deploy", "fifo.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"deploy/passwd.yaml": filepath.Join(out, "pod.yaml"),
		"deploy/twin.yaml":   filepath.Join(root, "deploy", "app.yaml"),
		"linkdir":            filepath.Join(out, "sub"),
	} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	co, err := Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	if data, _, err := co.ReadFile("deploy/app.yaml"); err != nil || string(data) != "app" {
		t.Fatalf("deploy/app.yaml: %q %v", data, err)
	}
	done := make(chan error, 1)
	go func() { _, _, err := co.ReadFile("deploy/fifo.yaml"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("a FIFO: %v, want ErrNotRegular", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO blocked")
	}
	for _, p := range []string{"deploy/passwd.yaml", "deploy/twin.yaml"} {
		if data, _, err := co.ReadFile(p); !errors.Is(err, ErrSymlink) {
			t.Errorf("%s: %q %v, want ErrSymlink", p, data, err)
		}
	}
	for _, p := range []string{"linkdir/pod.yaml", "../" + filepath.Base(root) + "/deploy/app.yaml", "deploy/../../x.yaml", "/etc/passwd", "deploy", "."} {
		if data, _, err := co.ReadFile(p); err == nil {
			t.Errorf("%s: read %q", p, data)
		}
	}
	if data, _, err := co.ReadFile("deploy/../other/b.yaml"); err != nil || string(data) != "b" {
		t.Errorf("a path through ..: %q %v", data, err)
	}
}

// TestReadFileManyDirectories: many directories, read from many goroutines
// at once, each file read whole.
func TestReadFileManyDirectories(t *testing.T) {
	root := t.TempDir()
	var paths []string
	for i := 0; i < 192; i++ {
		p := fmt.Sprintf("d%d/f%d.yaml", i, i)
		write(t, root, p, fmt.Sprintf("file %d %s", i, strings.Repeat("x", i*97)))
		paths = append(paths, p)
	}
	co, _ := Open(root, false)
	defer co.Close()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range paths {
				i := (i + w*31) % len(paths)
				data, mode, err := co.ReadFile(paths[i])
				if want := fmt.Sprintf("file %d %s", i, strings.Repeat("x", i*97)); err != nil || string(data) != want || mode != 0o644 {
					t.Errorf("%s: %d bytes, %v, %v", paths[i], len(data), mode, err)
				}
			}
		}()
	}
	wg.Wait()
}

// TestReadFileAfterTheTreeChanged: a directory removed and made again
// between two runs on one Checkout is read afresh after the next walk, not
// through the handle of the one removed.
func TestReadFileAfterTheTreeChanged(t *testing.T) {
	root := t.TempDir()
	write(t, root, "deploy/app.yaml", "first")
	co, _ := Open(root, false)
	defer co.Close()
	if data, _, err := co.ReadFile("deploy/app.yaml"); err != nil || string(data) != "first" {
		t.Fatalf("first read: %q %v", data, err)
	}
	if err := os.RemoveAll(filepath.Join(root, "deploy")); err != nil {
		t.Fatal(err)
	}
	write(t, root, "deploy/app.yaml", "second")
	if files, err := co.Files([]string{"."}, nil); err != nil || len(files) != 1 {
		t.Fatalf("Files = %v, %v", files, err)
	}
	if data, _, err := co.ReadFile("deploy/app.yaml"); err != nil || string(data) != "second" {
		t.Errorf("after the directory was made again: %q %v", data, err)
	}
}

// TestWriteAfterTheDirectoryMovedOut: a directory read from, then moved
// out of the checkout during the run (and another made in its place), is
// never written through: the write lands in the checkout, or nowhere.
func TestWriteAfterTheDirectoryMovedOut(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	write(t, root, "deploy/app.yaml", "old")
	co, err := Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	if data, _, err := co.ReadFile("deploy/app.yaml"); err != nil || string(data) != "old" {
		t.Fatalf("read: %q %v", data, err)
	}
	if err := os.Rename(filepath.Join(root, "deploy"), filepath.Join(outside, "deploy")); err != nil {
		t.Fatal(err)
	}
	write(t, root, "deploy/app.yaml", "old")
	if err := co.WriteFile("deploy/app.yaml", []byte("old"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(outside, "deploy/app.yaml")); string(got) != "old" {
		t.Errorf("the directory moved out was written: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "deploy/app.yaml")); string(got) != "new" {
		t.Errorf("the checkout's file holds %q", got)
	}
	if left, _ := os.ReadDir(filepath.Join(outside, "deploy")); len(left) != 1 {
		t.Errorf("outside holds %d files", len(left))
	}
}

// TestWriteInMoreDirectoriesThanKeptOpen: past the directories kept open,
// files are read and written from the checkout's root, as well.
func TestWriteInMoreDirectoriesThanKeptOpen(t *testing.T) {
	root := t.TempDir()
	n := maxDirRoots + 5
	for i := 0; i < n; i++ {
		write(t, root, fmt.Sprintf("d%03d/sub/app.yaml", i), "old")
	}
	co, err := Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("d%03d/sub/app.yaml", i)
		if data, _, err := co.ReadFile(p); err != nil || string(data) != "old" {
			t.Fatalf("%s: %q %v", p, data, err)
		}
		if err := co.WriteFile(p, []byte("old"), []byte("new")); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got, _ := os.ReadFile(filepath.Join(root, p)); string(got) != "new" {
			t.Fatalf("%s holds %q", p, got)
		}
	}
}
