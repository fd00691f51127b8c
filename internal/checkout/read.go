package checkout

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// ReadFile reads a regular file under the root, and tells its mode. It
// refuses symlinks, anything but a regular file, and files over
// MaxFileSize. Everything goes through the root, so nothing outside the
// checkout is ever read.
//
// The path is looked at without following it first, so a symlink is
// refused and a FIFO or device is never opened (opening a FIFO waits for a
// writer); the file opened is then checked to be the one looked at.
func (c *Checkout) ReadFile(rel string) ([]byte, fs.FileMode, error) {
	rel = path.Clean(rel)
	if base := path.Base(rel); base == ".." || base == "." || base == "/" {
		return nil, 0, &fs.PathError{Op: "open", Path: rel, Err: fs.ErrInvalid}
	}
	d, base, done := c.at(rel)
	defer done()
	fi, err := d.Lstat(base)
	if err != nil {
		return nil, 0, err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, 0, fmt.Errorf("%s: %w", rel, ErrSymlink)
	case !fi.Mode().IsRegular():
		return nil, 0, fmt.Errorf("%s: %w", rel, ErrNotRegular)
	}
	limit := c.maxSize()
	if fi.Size() > limit {
		return nil, 0, &TooLargeError{Size: fi.Size(), Limit: limit}
	}
	f, err := d.OpenFile(base, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() || !os.SameFile(fi, st) {
		// replaced between the look and the open
		return nil, 0, fmt.Errorf("%s: %w", rel, ErrChanged)
	}
	// One byte over the limit tells a file that grew while it was read;
	// the buffer is the file's size (and the byte that tells it grew), not
	// the doubling io.ReadAll would grow to.
	data := make([]byte, 0, min(st.Size(), limit)+1)
	data, err = readAll(io.LimitReader(f, limit+1), data)
	if err != nil {
		return nil, 0, &fs.PathError{Op: "read", Path: rel, Err: err}
	}
	if int64(len(data)) > limit {
		return nil, 0, &TooLargeError{Size: int64(len(data)), Limit: limit}
	}
	return data, st.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), nil
}

// readAll appends what r holds to buf, growing it only when it is full.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// ReadHead reads at most the first n bytes of a regular file under the
// root, whatever its size, as ReadFile would reach it: to tell what a file
// too large to read is.
func (c *Checkout) ReadHead(rel string, n int64) ([]byte, error) {
	rel = path.Clean(rel)
	fi, err := c.root.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", rel, ErrNotRegular)
	}
	f, err := c.root.OpenFile(rel, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !os.SameFile(fi, st) {
		return nil, fmt.Errorf("%s: %w", rel, ErrChanged)
	}
	return io.ReadAll(io.LimitReader(f, n))
}

// walkFS is the root's file system for a walk, with its entries sorted.
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
	// A directory's own listing tells each entry's type (a stat only where
	// the file system does not).
	entries, err := d.ReadDir(-1)
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, err
}
