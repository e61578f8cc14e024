// Package nowait opens the paths a unit, a service directory or a
// crontab names without waiting in open(2): for the other side of a
// FIFO, or for a serial line's carrier. tend opens them on the manager's
// loop (or a loader's), where such a wait would hold every other unit.
// The descriptor is then made blocking again, as the process would have
// opened it itself.
package nowait

import (
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Open opens path with flags (close-on-exec added) and perm, as a bare
// descriptor in blocking mode. A FIFO nobody has open for reading fails
// a write open with ENXIO; a read open succeeds, and reads end-of-file
// until a writer comes.
func Open(path string, flags int, perm uint32) (int, error) {
	for {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC|unix.O_NONBLOCK, perm)
		if err == unix.EINTR {
			continue
		}
		if err == nil {
			if err = unix.SetNonblock(fd, false); err != nil {
				unix.Close(fd)
			}
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return fd, nil
	}
}

// ReadFile opens path as Open does (flags added to O_RDONLY), hands
// check what the descriptor it got is, and reads the whole file only if
// check returns nil: the file checked is the file read, whatever was
// put at path since. check must refuse what is not a regular file (a
// FIFO or a device would hold the read); its error is returned as it is.
func ReadFile(path string, flags int, check func(fs.FileInfo) error) ([]byte, error) {
	fd, err := Open(path, unix.O_RDONLY|unix.O_NOCTTY|flags, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := check(fi); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}
