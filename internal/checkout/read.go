package checkout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ReadFile reads a regular file under the root, and tells its mode. It
// refuses symlinks, anything but a regular file, and files over
// MaxFileSize.
//
// The file is opened relative to its directory, whose handle is kept
// (opened through the root, so never outside it): reading a file is then
// four system calls (open, stat, read, close) where a walk from
// the root for every file would take a dozen. It is opened without
// following a symlink and without blocking, so a FIFO put in a file's
// place is refused, not waited on.
func (c *Checkout) ReadFile(rel string) ([]byte, fs.FileMode, error) {
	rel = path.Clean(rel)
	dirRel, base := path.Split(rel)
	if base == ".." || base == "." || base == "" {
		return nil, 0, &fs.PathError{Op: "openat", Path: rel, Err: fs.ErrInvalid}
	}
	d, err := c.dirs.acquire(c, path.Clean(dirRel))
	if err != nil {
		return nil, 0, err
	}
	defer c.dirs.release(d)
	var fd int
	err = ignoringEINTR(func() (err error) {
		fd, err = unix.Openat(d.fd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		var st unix.Stat_t
		if unix.Fstatat(d.fd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return nil, 0, fmt.Errorf("%s: %w", rel, ErrSymlink)
		}
		return nil, 0, &fs.PathError{Op: "openat", Path: rel, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return nil, 0, &fs.PathError{Op: "fstat", Path: rel, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, 0, fmt.Errorf("%s: %w", rel, ErrNotRegular)
	}
	limit := c.maxSize()
	if st.Size > limit {
		return nil, 0, &TooLargeError{Size: st.Size, Limit: limit}
	}
	// Read at its size, plus a byte to see a file that grew since stat: it
	// is read on, up to the limit. A file read whole at its size in one
	// call is taken as it is (its end is not read again): one that grew
	// just after is written back by no one, as WriteFile finds the bytes
	// changed.
	data := make([]byte, 0, st.Size+1)
	for first := true; ; first = false {
		if len(data) == cap(data) {
			if int64(len(data)) > limit { // it grew while being read
				return nil, 0, &TooLargeError{Size: int64(len(data)), Limit: limit}
			}
			data = append(data, 0)[:len(data)]
		}
		var n int
		err := ignoringEINTR(func() (err error) {
			n, err = unix.Read(fd, data[len(data):cap(data)])
			return err
		})
		if err != nil {
			return nil, 0, &fs.PathError{Op: "read", Path: rel, Err: err}
		}
		if n == 0 {
			break
		}
		data = data[:len(data)+n]
		if first && int64(n) == st.Size {
			break
		}
	}
	if int64(len(data)) > limit {
		return nil, 0, &TooLargeError{Size: int64(len(data)), Limit: limit}
	}
	return data, modeOf(uint32(st.Mode)), nil
}

// modeOf is the fs.FileMode of a regular file's st_mode.
func modeOf(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// maxOpenDirs bounds the directory handles kept open.
const maxOpenDirs = 64

// dirCache holds open directories of the tree, by their path relative to
// the root. A handle in use is never closed; idle ones are closed once
// more than maxOpenDirs are open. Every walk of the tree (Files) and Close
// let them all go, so a directory removed and made again since is opened
// afresh.
type dirCache struct {
	mu   sync.Mutex
	open map[string]*openDir
}

type openDir struct {
	f       *os.File
	fd      int
	users   int
	dropped bool // out of the cache: closed by its last user
}

func (dc *dirCache) acquire(c *Checkout, rel string) (*openDir, error) {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if d, ok := dc.open[rel]; ok {
		d.users++
		return d, nil
	}
	// Through the root: a directory outside it, or reached through a
	// symlink that leads out of it, is refused.
	f, err := c.root.Open(rel)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil || !fi.IsDir() {
		f.Close()
		if err == nil {
			err = &fs.PathError{Op: "openat", Path: rel, Err: unix.ENOTDIR}
		}
		return nil, err
	}
	if len(dc.open) >= maxOpenDirs {
		for k, d := range dc.open {
			if d.users == 0 {
				d.f.Close()
				delete(dc.open, k)
			}
		}
	}
	if dc.open == nil {
		dc.open = map[string]*openDir{}
	}
	d := &openDir{f: f, fd: int(f.Fd()), users: 1}
	dc.open[rel] = d
	return d, nil
}

func (dc *dirCache) release(d *openDir) {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	d.users--
	if d.dropped && d.users == 0 {
		d.f.Close()
	}
}

// dropAll lets every handle go: idle ones are closed now, those in use by
// their last user.
func (dc *dirCache) dropAll() {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	for k, d := range dc.open {
		delete(dc.open, k)
		d.dropped = true
		if d.users == 0 {
			d.f.Close()
		}
	}
}

// walkFS is the root's file system for a walk. Its ReadDir takes each
// entry's type from the directory itself: a directory read through an
// os.Root costs a stat per entry.
type walkFS struct {
	fs.FS
	root *os.Root
}

func (w walkFS) ReadDir(name string) ([]fs.DirEntry, error) {
	d, err := w.root.Open(name) // through the root: never outside it
	if err != nil {
		return nil, err
	}
	defer d.Close()
	fd, err := unix.FcntlInt(d.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	// A plain *os.File on the same directory reads entries with their
	// types (a stat only where the file system does not tell them).
	f := os.NewFile(uintptr(fd), path.Join(w.root.Name(), name))
	defer f.Close()
	entries, err := f.ReadDir(-1)
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, err
}
