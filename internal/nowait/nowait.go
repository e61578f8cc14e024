// Package nowait opens the paths a unit or a service directory names
// without waiting in open(2): for the other side of a FIFO, or for a
// serial line's carrier. tend opens them for its processes on the
// manager's loop, where such a wait would hold every other unit. The
// descriptor is then made blocking again, as the process would have
// opened it itself.
package nowait

import (
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
