// Package checkout is the tree pinbot works on: it finds the files to scan
// (skipping .git, what git ignores, and symlinks) and writes files back
// atomically, never outside the root and never through a symlink.
package checkout

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	gitconfig "github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// MaxFileSize is the largest file pinbot reads; bigger ones are reported and
// left alone.
const MaxFileSize = 32 << 20

// Checkout is a directory tree, usually a git work tree.
type Checkout struct {
	Root string // absolute, symlinks resolved
	Git  bool   // Root is a git work tree
	root *os.Root
}

// FindRoot is the git work tree holding dir (the nearest ancestor with a
// .git), or dir itself when there is none.
func FindRoot(dir string) (root string, git bool, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false, err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", false, err
	}
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		abs = filepath.Dir(abs)
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d, true, nil
		}
		if filepath.Dir(d) == d {
			return abs, false, nil
		}
	}
}

// Open opens root (an absolute or relative directory).
func Open(root string, git bool) (*Checkout, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, err
	}
	return &Checkout{Root: abs, Git: git, root: r}, nil
}

// Close releases the root.
func (c *Checkout) Close() error { return c.root.Close() }

// Rel turns a path given on the command line (relative to the working
// directory, or absolute) into a slash path relative to the root. It fails
// for a path outside the root.
func (c *Checkout) Rel(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	} else {
		return "", err
	}
	rel, err := filepath.Rel(c.Root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside %s", p, c.Root)
	}
	return filepath.ToSlash(rel), nil
}

// Filter decides, on top of git's ignore rules, which files and directories
// to visit.
type Filter interface {
	File(rel string) bool
	Dir(rel string) bool
}

// Files lists the regular files under the given slash paths (relative to the
// root; "." for all), sorted and without duplicates. It skips .git, symlinks,
// and in a git work tree every path git ignores. A file named explicitly is
// listed whatever the ignore rules say.
func (c *Checkout) Files(paths []string, filter Filter) ([]string, error) {
	ign := c.ignorer()
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		p = path.Clean(p)
		fi, err := c.root.Lstat(p)
		if err != nil {
			return nil, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s is a symlink: name its target instead", p)
		}
		if fi.Mode().IsRegular() {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			continue
		}
		err = fs.WalkDir(c.root.FS(), p, func(rel string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if rel != p && (d.Name() == ".git" || ign.match(rel, true) || (filter != nil && !filter.Dir(rel))) {
					return fs.SkipDir
				}
				ign.load(c, rel)
				return nil
			}
			if !d.Type().IsRegular() || ign.match(rel, false) || (filter != nil && !filter.File(rel)) || seen[rel] {
				return nil
			}
			seen[rel] = true
			out = append(out, rel)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// ignorer is git's ignore rules, gathered as the walk enters directories.
type ignorer struct {
	on       bool
	patterns []gitignore.Pattern
	loaded   map[string]bool
}

func (c *Checkout) ignorer() *ignorer {
	ig := &ignorer{on: c.Git, loaded: map[string]bool{}}
	if !c.Git {
		return ig
	}
	if ps, err := gitignore.LoadGlobalPatterns(osfs.New("/")); err == nil {
		ig.patterns = append(ig.patterns, ps...)
	}
	ig.patterns = append(ig.patterns, c.readPatterns(".git/info/exclude", nil)...)
	// .gitignore files of the directories above a walk's start count too
	ig.load(c, ".")
	return ig
}

func (ig *ignorer) load(c *Checkout, dir string) {
	if !ig.on {
		return
	}
	// a walk may start below the root: take in the parents' rules first
	var parts []string
	if dir != "." {
		parts = strings.Split(dir, "/")
	}
	for i := 0; i <= len(parts); i++ {
		d := strings.Join(parts[:i], "/")
		if d == "" {
			d = "."
		}
		if ig.loaded[d] {
			continue
		}
		ig.loaded[d] = true
		ig.patterns = append(ig.patterns, c.readPatterns(path.Join(d, ".gitignore"), parts[:i])...)
	}
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

func (ig *ignorer) match(rel string, dir bool) bool {
	if !ig.on || len(ig.patterns) == 0 {
		return false
	}
	return gitignore.NewMatcher(ig.patterns).Match(strings.Split(rel, "/"), dir)
}

// ReadFile reads a regular file under the root, and tells its mode. It
// refuses symlinks and files over MaxFileSize.
func (c *Checkout) ReadFile(rel string) ([]byte, fs.FileMode, error) {
	fi, err := c.root.Lstat(rel)
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: not a regular file", rel)
	}
	if fi.Size() > MaxFileSize {
		return nil, 0, fmt.Errorf("%s: %d bytes is over the %d MiB pinbot reads", rel, fi.Size(), MaxFileSize>>20)
	}
	data, err := c.root.ReadFile(rel)
	return data, fi.Mode(), err
}

// ErrNotRegular is returned for writes to anything but a regular file.
var ErrNotRegular = errors.New("not a regular file")

// WriteFile replaces a regular file's bytes atomically: a temporary file in
// the same directory, synced, given the original's mode, then renamed over
// it. A symlink is never written through.
func (c *Checkout) WriteFile(rel string, data []byte) error {
	fi, err := c.root.Lstat(rel)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %w", rel, ErrNotRegular)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := path.Join(path.Dir(rel), "."+path.Base(rel)+".pinbot-"+hex.EncodeToString(rnd[:]))
	f, err := c.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = c.root.Chmod(tmp, fi.Mode().Perm()) // the umask may have narrowed it
	}
	if werr == nil {
		werr = c.root.Rename(tmp, rel)
	}
	if werr != nil {
		c.root.Remove(tmp)
		return fmt.Errorf("writing %s: %w", rel, werr)
	}
	return nil
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
