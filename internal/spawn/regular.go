package spawn

import (
	"errors"
	"io/fs"
	"os"

	"github.com/tendproject/tend/internal/nowait"
)

// readRegular reads a whole regular file. What a unit names for tend to
// read before the fork (EnvironmentFile=, LoadCredential=) is read on the
// manager's loop: a FIFO there would hold the open until a writer came,
// a device like /dev/zero the read for ever, and every unit with them.
// So the open does not wait, and anything but a regular file is refused.
func readRegular(path string) ([]byte, error) {
	return nowait.ReadFile(path, 0, func(fi fs.FileInfo) error {
		if !fi.Mode().IsRegular() {
			return &os.PathError{Op: "read", Path: path, Err: errNotRegular}
		}
		return nil
	})
}

// errNotRegular says what readRegular refused.
var errNotRegular = errors.New("not a regular file")
