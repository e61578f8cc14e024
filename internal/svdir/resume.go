package svdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/flock"
)

// A supervise/ directory across a re-exec of its supervisor: the same
// open files (the lock, both ends of control, the read end of ok) are
// kept through exec, so the lock never lapses, sv always finds a
// reader on ok, and a command written meanwhile waits in the FIFO.

// Names of the descriptors Files reports and Resume takes.
const (
	FileLock     = "lock"
	FileControlR = "control-r"
	FileControlW = "control-w"
	FileOK       = "ok"
)

// Files names the descriptors d holds, for a re-exec to keep open.
// It does not change them (no blocking mode is set).
func (d *Dir) Files() map[string]int {
	out := map[string]int{}
	for name, f := range map[string]*os.File{FileLock: d.lock, FileControlW: d.controlW, FileOK: d.ok} {
		if fd := rawFD(f); fd >= 0 {
			out[name] = fd
		}
	}
	if d.controlR >= 0 {
		out[FileControlR] = d.controlR
	}
	return out
}

func rawFD(f *os.File) int {
	if f == nil {
		return -1
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	_ = rc.Control(func(u uintptr) { fd = int(u) })
	return fd
}

// Resume takes back the supervise/ directory of svc from the files a
// previous process of this supervisor kept across exec (as Files named
// them), writes st and delivers its commands on h. Each file must be
// the one it names in svc/supervise and the lock still held through
// it; otherwise every file is closed (so the lock is released) and an
// error returned, and the caller opens the directory afresh.
func Resume(svc string, h *Hub, files map[string]*os.File, st Status) (*Dir, error) {
	sup := filepath.Join(svc, "supervise")
	d := newDir(svc, sup, h)
	err := d.resume(files)
	if err == nil {
		err = d.Write(st)
	}
	if err == nil {
		err = h.add(d)
	}
	if err != nil {
		for _, f := range files {
			f.Close()
		}
		d.closeFiles()
		return nil, fmt.Errorf("service directory %s: cannot take supervise/ back: %w", svc, err)
	}
	return d, nil
}

func (d *Dir) resume(files map[string]*os.File) error {
	for _, name := range []string{FileLock, FileControlR, FileControlW, FileOK} {
		f := files[name]
		if f == nil {
			return fmt.Errorf("no %s kept", name)
		}
		path := filepath.Join(d.path, name)
		if name == FileControlR || name == FileControlW {
			path = filepath.Join(d.path, "control")
		}
		if !sameFile(f, path) {
			return fmt.Errorf("kept %s is not %s", name, path)
		}
	}
	if err := flock.Try(files[FileLock]); err != nil {
		return err
	}
	// The read end is the hub's raw descriptor: moved out of its
	// *os.File (a duplicate), non-blocking as the hub reads it.
	var fd int
	var derr error
	rc, err := files[FileControlR].SyscallConn()
	if err == nil {
		err = rc.Control(func(u uintptr) { fd, derr = unix.FcntlInt(u, unix.F_DUPFD_CLOEXEC, 3) })
	}
	if err = errors.Join(err, derr); err != nil {
		return err
	}
	files[FileControlR].Close()
	delete(files, FileControlR)
	d.controlR = fd
	if err := unix.SetNonblock(fd, true); err != nil {
		return err
	}
	d.lock, d.controlW, d.ok = files[FileLock], files[FileControlW], files[FileOK]
	delete(files, FileLock)
	delete(files, FileControlW)
	delete(files, FileOK)
	return nil
}

// sameFile reports whether f is the file at path (not a symlink).
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}
