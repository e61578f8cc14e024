package spawn

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// readRegular reads a whole regular file. What a unit names for tend to
// read before the fork (EnvironmentFile=, LoadCredential=) is read on the
// manager's loop: a FIFO there would hold the open until a writer came,
// a device like /dev/zero the read for ever, and every unit with them.
// So the open does not wait, and anything but a regular file is refused.
func readRegular(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &os.PathError{Op: "read", Path: path, Err: errNotRegular}
	}
	return io.ReadAll(f)
}

// errNotRegular says what readRegular refused.
var errNotRegular = errors.New("not a regular file")
