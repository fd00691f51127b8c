// Package checkout is the tree pinbot works on: it finds the files to scan
// (skipping .git, what git ignores, and symlinks) and writes files back
// atomically, never outside the root and never through a symlink.
package checkout

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	gitconfig "github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/pinbot/pinbot/internal/safetext"
	"github.com/pinbot/pinbot/internal/size"
)

// DefaultMaxFileSize is the largest file pinbot reads unless told
// otherwise; a bigger one is reported, left alone, and fails the run.
const DefaultMaxFileSize = 32 << 20

// Checkout is a directory tree, usually a git work tree.
type Checkout struct {
	Root string // absolute, symlinks resolved
	Git  bool   // Root is a git work tree
	// MaxFileSize is the largest file ReadFile reads; 0 means the default.
	MaxFileSize int64
	root        *os.Root
	stale       []string // temporary files of killed runs that Files came across
	dirs        dirRoots // the directories files are read and written in
}

// Stale lists the temporary files of killed runs that Files came across
// (never scanned; RemoveTemp removes them).
func (c *Checkout) Stale() []string { return c.stale }

// Location is where the paths named on a command line sit: the root of
// their tree, as written and resolved, and each path relative to it.
type Location struct {
	Root  string   // absolute, as written (symlinks above the tree kept)
	Git   bool     // Root is a git work tree
	Paths []string // slash paths relative to Root
}

// Locate finds the tree the given paths (relative to the working directory
// wd, or absolute) sit in, as written: the nearest enclosing git work tree,
// or, outside git, wd when it holds them, else the first path's directory.
//
// A named path gets the rules a walked one does. Symlinks above the tree
// (a home directory that is a link) are the user's business; a symlink at
// or below the tree's root in a named path, such as a "deploy" that links
// to a directory elsewhere, is refused: pinbot reads and writes nothing
// outside the tree and follows no symlink out of it. All paths must sit in
// the same tree.
func Locate(wd string, paths []string) (*Location, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	if !filepath.IsAbs(wd) {
		return nil, fmt.Errorf("working directory %q is not absolute", wd)
	}
	loc := &Location{}
	for i, p := range paths {
		abs := p
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(wd, p)
		}
		abs = filepath.Clean(abs)
		root, git, err := treeOf(abs, wd)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if i == 0 {
			loc.Root, loc.Git = root, git
		} else if root != loc.Root {
			return nil, fmt.Errorf("%s is not in %s, the tree of %s", p, loc.Root, paths[0])
		}
		if err := noLinkBelow(loc.Root, abs); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		rel, err := filepath.Rel(loc.Root, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("%s is outside %s", p, loc.Root)
		}
		loc.Paths = append(loc.Paths, filepath.ToSlash(rel))
	}
	return loc, nil
}

// ErrSymlink is a named path that goes through a symlink inside the tree.
var ErrSymlink = errors.New("is a symlink")

// treeOf finds the root of the tree abs sits in. Walking down from "/", a
// directory holding .git starts a work tree; the deepest one wins unless a
// symlink stands between it and an enclosing work tree (the path would
// leave that tree through the link).
func treeOf(abs, wd string) (string, bool, error) {
	var chain []string // "/", then each ancestor down to abs
	for d := abs; ; d = filepath.Dir(d) {
		chain = append(chain, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	root, git := "", false
	for i := len(chain) - 1; i >= 0; i-- {
		d := chain[i]
		fi, err := os.Lstat(d)
		if err != nil {
			return "", false, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 && git {
			return "", false, fmt.Errorf("%s %w inside the work tree %s: name its target instead", d, ErrSymlink, root)
		}
		if i > 0 && fi.Mode()&fs.ModeSymlink == 0 && !fi.IsDir() {
			return "", false, fmt.Errorf("%s is not a directory", d)
		}
		if i == 0 && !fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
			break // a file: its directory's tree
		}
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			root, git = d, true
		}
	}
	if git {
		return root, true, nil
	}
	// Outside git: the working directory when it holds the path.
	if rel, err := filepath.Rel(wd, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return wd, false, nil
	}
	if fi, err := os.Lstat(abs); err == nil && fi.IsDir() {
		return abs, false, nil
	}
	return filepath.Dir(abs), false, nil
}

// noLinkBelow refuses a path with a symlink at any component below root.
func noLinkBelow(root, abs string) error {
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == "." {
		return nil
	}
	d := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		d = filepath.Join(d, part)
		fi, err := os.Lstat(d)
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s %w: name its target instead", d, ErrSymlink)
		}
	}
	return nil
}

// Open opens root (an absolute or relative directory).
func Open(root string, git bool) (*Checkout, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(real)
	if err != nil {
		return nil, err
	}
	return &Checkout{Root: real, Git: git, root: r}, nil
}

// Close releases the root.
func (c *Checkout) Close() error {
	c.dirs.close()
	return c.root.Close()
}

// Filter decides, on top of git's ignore rules, which files and directories
// to visit. Its methods are called from several goroutines at once.
type Filter interface {
	File(rel string) bool
	Dir(rel string) bool
}

// walkJobs bounds the directories read at once.
const walkJobs = 8

// Files lists the regular files under the given slash paths (relative to the
// root; "." for all), sorted and without duplicates. It skips .git, symlinks,
// and in a git work tree every path git ignores. A file named explicitly is
// listed whatever the ignore rules say. Directories are read a few at a time.
func (c *Checkout) Files(paths []string, filter Filter) ([]string, error) {
	l, err := c.Walk(paths, filter)
	if err != nil {
		return nil, err
	}
	return l.Files, nil
}

// A Listing is what a walk of the tree saw.
type Listing struct {
	Files []string        // as Files lists them
	Dirs  map[string]bool // the directories read
	// Also are the regular files in the directories read whose name is
	// one of those Walk was asked about, listed or not (ignored,
	// filtered out), sorted.
	Also []string
}

// Walk is Files with what else the walk saw: the directories it read, and
// the files named as one of also in them, whether listed or not.
func (c *Checkout) Walk(paths []string, filter Filter, also ...string) (*Listing, error) {
	c.dirs.forget()

	w := &walker{c: c, fsys: walkFS{c.root.FS(), c.root}, filter: filter, git: c.Git, sem: make(chan struct{}, walkJobs),
		dirs: map[string]bool{}, also: also}
	if c.Git {
		if ps, err := gitignore.LoadGlobalPatterns(osfs.New("/")); err == nil {
			w.base = append(w.base, ps...)
		}
		w.base = append(w.base, c.readPatterns(".git/info/exclude", nil)...)
	}
	for _, p := range paths {
		p = path.Clean(p)
		fi, err := c.root.Lstat(p)
		if err != nil {
			return nil, err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return nil, fmt.Errorf("%s is a symlink: name its target instead", p)
		case fi.Mode().IsRegular():
			w.files = append(w.files, p)
		case fi.IsDir():
			// the .gitignore files of the directories above a walk's start count too
			pats := w.base
			if p != "." {
				parts := strings.Split(p, "/")
				pats = w.patterns(pats, ".")
				for i := 1; i < len(parts); i++ {
					pats = w.patterns(pats, strings.Join(parts[:i], "/"))
				}
			}
			w.dir(p, pats)
			w.wg.Wait()
		}
		if w.err != nil {
			return nil, w.err
		}
	}
	sort.Strings(w.stale)
	c.stale = append(c.stale, slices.Compact(w.stale)...)
	sort.Strings(w.files)
	sort.Strings(w.found)
	return &Listing{Files: slices.Compact(w.files), Dirs: w.dirs, Also: slices.Compact(w.found)}, nil
}

// walker lists the files of a tree, reading directories concurrently.
type walker struct {
	c      *Checkout
	fsys   walkFS
	filter Filter
	git    bool
	base   []gitignore.Pattern // the global rules and .git/info/exclude
	sem    chan struct{}       // a slot for each directory read by a goroutine of its own
	wg     sync.WaitGroup

	also []string // names of files to note whether listed or not

	mu    sync.Mutex
	files []string
	stale []string        // a killed run's temporary files: never scanned
	dirs  map[string]bool // the directories read
	found []string        // the files named as one of also
	err   error           // the first a directory read failed with
}

// dir lists directory rel, under the ignore rules of the directories above
// it (pats) and of its own .gitignore, and goes into its subdirectories:
// each in a goroutine of its own while a slot is free, else at once.
func (w *walker) dir(rel string, pats []gitignore.Pattern) {
	w.mu.Lock()
	failed := w.err != nil
	w.mu.Unlock()
	if failed {
		return
	}
	entries, err := w.fsys.ReadDir(rel)
	if err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
		return
	}
	if w.git && slices.ContainsFunc(entries, func(d fs.DirEntry) bool { return d.Name() == ".gitignore" }) {
		pats = w.patterns(pats, rel)
	}
	var files, stale, found []string
	for _, d := range entries {
		child := path.Join(rel, d.Name())
		if d.Type().IsRegular() && slices.Contains(w.also, d.Name()) {
			found = append(found, child)
		}
		switch {
		case d.IsDir():
			if d.Name() == ".git" || w.ignored(pats, child, true) || (w.filter != nil && !w.filter.Dir(child)) {
				continue
			}
			select {
			case w.sem <- struct{}{}:
				w.wg.Add(1)
				go func() {
					defer w.wg.Done()
					w.dir(child, pats)
					<-w.sem
				}()
			default:
				w.dir(child, pats)
			}
		case !d.Type().IsRegular():
			// symlinks, sockets, devices: never read
		case IsTemp(d.Name()):
			stale = append(stale, child)
		case !w.ignored(pats, child, false) && (w.filter == nil || w.filter.File(child)):
			files = append(files, child)
		}
	}
	w.mu.Lock()
	w.files = append(w.files, files...)
	w.stale = append(w.stale, stale...)
	w.found = append(w.found, found...)
	w.dirs[rel] = true
	w.mu.Unlock()
}

// patterns is pats with the rules of dir's .gitignore after them (git's
// rules only in a git work tree).
func (w *walker) patterns(pats []gitignore.Pattern, dir string) []gitignore.Pattern {
	if !w.git {
		return nil
	}
	var domain []string
	if dir != "." {
		domain = strings.Split(dir, "/")
	}
	own := w.c.readPatterns(path.Join(dir, ".gitignore"), domain)
	if len(own) == 0 {
		return pats
	}
	return append(pats[:len(pats):len(pats)], own...)
}

// ignored reports whether git ignores rel under the rules pats.
func (w *walker) ignored(pats []gitignore.Pattern, rel string, dir bool) bool {
	if len(pats) == 0 {
		return false
	}
	return gitignore.NewMatcher(pats).Match(strings.Split(rel, "/"), dir)
}

func (c *Checkout) readPatterns(file string, domain []string) []gitignore.Pattern {
	data, err := c.root.ReadFile(file)
	if err != nil {
		return nil
	}
	var ps []gitignore.Pattern
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, append([]string(nil), domain...)))
	}
	return ps
}

func (c *Checkout) maxSize() int64 {
	if c.MaxFileSize > 0 {
		return c.MaxFileSize
	}
	return DefaultMaxFileSize
}

// TooLargeError is a file over the size pinbot reads.
type TooLargeError struct{ Size, Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%d bytes is over the %s pinbot reads (maxFileSize in .pinbot.yaml, or --max-file-size)", e.Size, size.Format(e.Limit))
}

// ErrNotRegular is returned for writes to anything but a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrChanged is a file whose bytes changed after pinbot read them: someone
// edited it during the run. It is left as it is.
var ErrChanged = errors.New("changed since pinbot read it; left as it is")

// tempInfix marks pinbot's temporary files: ".<name>.pinbot-<12 hex>".
const tempInfix = ".pinbot-"

var tempRE = regexp.MustCompile(`^\..+\.pinbot-[0-9a-f]{12}$`)

// IsTemp reports whether a file name is one of pinbot's temporary files.
func IsTemp(name string) bool { return tempRE.MatchString(name) }

// WriteFile replaces a regular file's bytes atomically, if it still holds
// old: a temporary file in the same directory, synced, given the original's
// mode, then renamed over it. A file whose bytes are no longer old (edited
// during the run) is left as it is, with ErrChanged. A symlink is never
// written through. Several may run at once, on different files.
func (c *Checkout) WriteFile(rel string, old, data []byte) error {
	tmp, err := c.writeTemp(rel, data)
	if err != nil {
		return err
	}
	if err = c.replace(rel, tmp, old); err != nil {
		c.remove(tmp)
	}
	return err
}

// writeTemp writes data to a new temporary file beside rel, with rel's
// mode, and syncs it.
func (c *Checkout) writeTemp(rel string, data []byte) (string, error) {
	fi, err := c.lstat(rel)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s: %w", rel, ErrNotRegular)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	tmp := path.Join(path.Dir(rel), "."+path.Base(rel)+tempInfix+hex.EncodeToString(rnd[:]))
	// The whole mode is kept: permissions, and the setuid, setgid and
	// sticky bits that a mode's Perm() leaves out.
	mode := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	d, base, done := c.atForWrite(tmp)
	defer done()
	f, err := d.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", rel, err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = d.Chmod(base, mode) // the umask may have narrowed it; open never sets the special bits
	}
	if werr != nil {
		d.Remove(base)
		return "", fmt.Errorf("writing %s: %w", rel, werr)
	}
	return tmp, nil
}

// replace renames tmp over rel, if rel still holds old.
func (c *Checkout) replace(rel, tmp string, old []byte) error {
	fi, err := c.lstat(rel)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %w", rel, ErrNotRegular)
	}
	// As late as can be: the file must still hold what was read.
	now, _, err := c.ReadFile(rel)
	if err != nil {
		return err
	}
	if !bytes.Equal(now, old) {
		return fmt.Errorf("%s: %w", rel, ErrChanged)
	}
	d, base, done := c.atForWrite(rel)
	defer done()
	from := tmp // beside rel: in d, its name alone
	if d != c.root {
		from = path.Base(tmp)
	}
	if err := d.Rename(from, base); err != nil {
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	return nil
}

// RemoveTemp removes the temporary files a run that was killed left under
// the given slash paths of the root (those Files reported in Stale), and
// returns the ones removed.
func (c *Checkout) RemoveTemp(stale []string) ([]string, error) {
	var removed []string
	for _, rel := range stale {
		if !IsTemp(path.Base(rel)) {
			continue
		}
		fi, err := c.root.Lstat(rel)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if err := c.root.Remove(rel); err != nil {
			return removed, err
		}
		removed = append(removed, rel)
	}
	return removed, nil
}

// RemoteURL is the URL git has for a remote ("origin") of the work tree.
func (c *Checkout) RemoteURL(remote string) (string, error) {
	if !c.Git {
		return "", fmt.Errorf("%s is not a git work tree", c.Root)
	}
	gitDir := filepath.Join(c.Root, ".git")
	if fi, err := os.Stat(gitDir); err == nil && !fi.IsDir() {
		// a linked work tree or a submodule: ".git" names the git directory
		data, err := os.ReadFile(gitDir)
		if err != nil {
			return "", err
		}
		dir, ok := strings.CutPrefix(strings.TrimSpace(string(data)), "gitdir: ")
		if !ok {
			return "", fmt.Errorf("%s: not a gitdir file", gitDir)
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(c.Root, dir)
		}
		gitDir = dir
		if common, err := os.ReadFile(filepath.Join(dir, "commondir")); err == nil {
			gitDir = filepath.Join(dir, strings.TrimSpace(string(common)))
		}
	}
	f, err := os.Open(filepath.Join(gitDir, "config"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	cfg := gitconfig.New()
	if err := gitconfig.NewDecoder(f).Decode(cfg); err != nil {
		return "", fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	u := cfg.Section("remote").Subsection(remote).Option("url")
	if u == "" {
		return "", fmt.Errorf("the work tree has no remote %q", remote)
	}
	return u, nil
}

// maxRevisionFile bounds a file read from a commit (FileAt).
const maxRevisionFile = 1 << 20

// FileAt reads a file as a commit of the work tree's repository holds it,
// through git: rev is anything git names a commit by (a hash, a branch,
// "origin/main"). A file the commit does not hold is fs.ErrNotExist.
func (c *Checkout) FileAt(ctx context.Context, rev, rel string) ([]byte, error) {
	if !c.Git {
		return nil, fmt.Errorf("%s is not a git work tree: there is no %s to read %s from", c.Root, rev, rel)
	}
	if rev == "" || strings.HasPrefix(rev, "-") || strings.ContainsAny(rev, ":\x00\n") {
		return nil, fmt.Errorf("revision %q: not a revision", rev)
	}
	rel = path.Clean(filepath.ToSlash(rel))
	git := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", c.Root}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return out, fmt.Errorf("git %s: %v: %s", args[0], err, safetext.Term(strings.TrimSpace(stderr.String())))
		}
		return out, nil
	}
	if _, err := git("rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}"); err != nil {
		return nil, fmt.Errorf("revision %q is not a commit of %s (is it fetched?)", rev, c.Root)
	}
	out, err := git("ls-tree", "-l", "--end-of-options", rev+"^{commit}", "--", rel)
	if err != nil {
		return nil, err
	}
	// "<mode> <type> <object> <size>\t<path>", or nothing when absent
	fields := strings.Fields(string(bytes.SplitN(out, []byte("\t"), 2)[0]))
	if len(fields) == 0 {
		return nil, &fs.PathError{Op: "read", Path: rev + ":" + rel, Err: fs.ErrNotExist}
	}
	if len(fields) != 4 || fields[0] != "100644" && fields[0] != "100755" || fields[1] != "blob" {
		return nil, fmt.Errorf("%s:%s: %w", rev, rel, ErrNotRegular)
	}
	if n, err := strconv.ParseInt(fields[3], 10, 64); err != nil || n > maxRevisionFile {
		return nil, &TooLargeError{Size: n, Limit: maxRevisionFile}
	}
	return git("cat-file", "blob", fields[2])
}

// Rel is a path's slash path relative to the root, or "" when it is not
// under the root (symlinks resolved).
func (c *Checkout) Rel(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	rel, err := filepath.Rel(c.Root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return ""
	}
	return filepath.ToSlash(rel)
}

// MaxTree bounds the bytes ReadTree reads.
const MaxTree = 64 << 20

// ErrTreeTooLarge is a tree over MaxTree bytes.
var ErrTreeTooLarge = errors.New("holds more than pinbot reads of one directory")

// ReadTree reads every regular file under directory dir (a slash path
// relative to the root), whatever git ignores, but for .git: by slash path
// relative to dir. A symlink, or anything but a file or a directory, below
// dir is an error: pinbot reads nothing it would not write. At most MaxTree
// bytes in all.
func (c *Checkout) ReadTree(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	total := int64(0)
	var walk func(rel string) error
	walk = func(rel string) error {
		d, err := c.root.Open(path.Join(dir, rel))
		if err != nil {
			return err
		}
		entries, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := path.Join(rel, e.Name())
			switch t := e.Type(); {
			case e.Name() == ".git":
			case t.IsDir():
				if err := walk(p); err != nil {
					return err
				}
			case t&fs.ModeSymlink != 0:
				return fmt.Errorf("%s: %w", path.Join(dir, p), ErrSymlink)
			case t.IsRegular():
				data, _, err := c.ReadFile(path.Join(dir, p))
				if err != nil {
					return err
				}
				if total += int64(len(data)); total > MaxTree {
					return fmt.Errorf("%s %w (%s)", dir, ErrTreeTooLarge, size.Format(MaxTree))
				}
				out[p] = data
			default:
				return fmt.Errorf("%s: %w", path.Join(dir, p), ErrNotRegular)
			}
		}
		return nil
	}
	if err := walk("."); err != nil {
		return nil, err
	}
	return out, nil
}

// Lstat describes a path under the root without following a symlink.
func (c *Checkout) Lstat(rel string) (fs.FileInfo, error) { return c.root.Lstat(path.Clean(rel)) }
