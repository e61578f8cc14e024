package logroute

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// file is one destination file. buf belongs to the Router's goroutine; the
// other fields are guarded by Router.mu.
type file struct {
	path   string
	noSync bool
	buf    []byte

	f        *os.File
	dev, ino uint64
	size     int64 // the file's size after tend's last write
	dirty    bool  // written since the last sync
	// failed is why the file could not be opened or written; it is
	// reported once and cleared by a successful reopen.
	failed error
}

// fileOpts is how the Router creates files ($FileCreateMode etc.).
type fileOpts struct {
	mode     fs.FileMode
	uid, gid int // -1 to leave as created
}

// open opens the file for appending, creating it if needed. A symlink is
// refused, as syslogd does: a link planted where a log file belongs would
// make tend write to a file of the attacker's choosing. A missing
// directory is an error, not created: it usually means a typo.
func (d *file) open(o fileOpts) error {
	if fi, err := os.Lstat(d.path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		target, _ := os.Readlink(d.path)
		return fmt.Errorf("%s: is a symlink (to %s); refusing to write through it", d.path, target)
	}
	if _, err := os.Stat(filepath.Dir(d.path)); err != nil {
		return fmt.Errorf("%s: directory %s: %w", d.path, filepath.Dir(d.path), unwrapPath(err))
	}
	// Non-blocking: a FIFO at a log file's path ("|/path" is the named
	// pipe destination) would hold the open until a reader came, and
	// every destination behind it; it fails (ENXIO) or is refused below.
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, o.mode)
	if err != nil {
		return fmt.Errorf("%s: %w", d.path, unwrapPath(err))
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", d.path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return fmt.Errorf("%s: not a regular file", d.path)
	}
	if st.Size == 0 && (o.uid >= 0 || o.gid >= 0) {
		_ = f.Chown(o.uid, o.gid) // a new file; keep an old one's owner
	}
	d.f, d.dev, d.ino, d.size = f, st.Dev, st.Ino, st.Size
	return nil
}

// unwrapPath drops the *PathError wrapper, whose path the caller already
// names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// resume trims what the file got after the persisted state: the lines of
// entries past the saved cursor, which the Router writes again. Only the
// same file (device and inode) is trimmed; a rotated one is left alone.
// It returns the bytes cut.
func (d *file) resume(saved fileState, ok bool) int64 {
	if !ok || d.f == nil || saved.dev != d.dev || saved.ino != d.ino || d.size <= saved.size {
		return 0
	}
	if err := d.f.Truncate(saved.size); err != nil {
		return 0
	}
	cut := d.size - saved.size
	d.size = saved.size
	return cut
}

// close closes the file after syncing what was written.
func (d *file) close() {
	if d.f == nil {
		return
	}
	if d.dirty {
		_ = d.f.Sync()
	}
	d.f.Close()
	d.f, d.dirty = nil, false
}

// write appends b. A short write is retried until all is written or an
// error stops it; the size follows what reached the file.
func (d *file) write(b []byte) error {
	for len(b) > 0 {
		n, err := d.f.Write(b)
		d.size += int64(n)
		b = b[n:]
		if n > 0 {
			d.dirty = true
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// replaced reports whether the path now names another file than the one
// open (or none), after a rename or removal under tend.
func (d *file) replaced() bool {
	var st unix.Stat_t
	if err := unix.Stat(d.path, &st); err != nil {
		return true
	}
	return d.f == nil || st.Dev != d.dev || st.Ino != d.ino
}
