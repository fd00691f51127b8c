package checkout

import (
	"io/fs"
	"os"
	"path"
	"sync"
)

// maxDirRoots bounds the directories kept open: each holds a descriptor.
const maxDirRoots = 128

// dirRoots are roots opened at directories of the checkout, kept until the
// checkout closes: reading or writing a file then resolves its own name
// only, not every directory above it, which on a tree of 20,000 files is
// most of the system calls. Once maxDirRoots are open, the others are
// reached from the checkout's root as before. Like the root, each stays
// inside the checkout, whatever its path holds.
type dirRoots struct {
	use    sync.RWMutex // held to read while a root is in use; to write to close them
	mu     sync.Mutex   // guards m
	m      map[string]*os.Root
	closed bool
}

// forget closes the directories open, once no one uses them: each walk
// starts afresh, as a directory may have been removed and made again, or
// moved away, since the last.
func (d *dirRoots) forget() {
	d.use.Lock()
	defer d.use.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.m {
		r.Close()
	}
	d.m = nil
}

// at is the root a file is reached from, and its name there: the root of
// its directory when one is open or can be, else the checkout's root and
// the whole path. done ends the use of the root; it must be called, and
// before at is called again.
func (c *Checkout) at(rel string) (r *os.Root, name string, done func()) {
	c.dirs.use.RLock()
	done = c.dirs.use.RUnlock
	dir := path.Dir(rel)
	if dir == "." {
		return c.root, rel, done
	}
	c.dirs.mu.Lock()
	defer c.dirs.mu.Unlock()
	if r := c.dirs.m[dir]; r != nil {
		return r, path.Base(rel), done
	}
	if c.dirs.closed || len(c.dirs.m) >= maxDirRoots {
		return c.root, rel, done
	}
	r, err := c.root.OpenRoot(dir)
	if err != nil {
		return c.root, rel, done // the error is the file's, told when it is reached
	}
	if c.dirs.m == nil {
		c.dirs.m = map[string]*os.Root{}
	}
	c.dirs.m[dir] = r
	return r, path.Base(rel), done
}

// atForWrite is at for a write: a directory open since before is used only
// while it is still the one at its path in the checkout. One moved away
// during the run (out of the checkout, say) is not written through; the
// path is then reached from the checkout's root, which stays inside it.
func (c *Checkout) atForWrite(rel string) (r *os.Root, name string, done func()) {
	r, name, done = c.at(rel)
	if r == c.root {
		return r, name, done
	}
	here, err1 := r.Stat(".")
	there, err2 := c.root.Lstat(path.Dir(rel))
	if err1 != nil || err2 != nil || !os.SameFile(here, there) {
		return c.root, rel, done
	}
	return r, name, done
}

func (c *Checkout) lstat(rel string) (fs.FileInfo, error) {
	d, base, done := c.at(rel)
	defer done()
	return d.Lstat(base)
}

func (c *Checkout) remove(rel string) error {
	d, base, done := c.at(rel)
	defer done()
	return d.Remove(base)
}

func (d *dirRoots) close() {
	d.forget()
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
}
