package nowait

import (
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpen: a FIFO nobody serves opens at once for reading and fails at
// once for writing (ENXIO); what opens is in blocking mode.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(fifo, unix.O_WRONLY, 0); !errors.Is(err, unix.ENXIO) {
		t.Errorf("write open of a FIFO with no reader: %v; want ENXIO", err)
	}
	for _, c := range []struct {
		path  string
		flags int
	}{{fifo, unix.O_RDONLY}, {filepath.Join(dir, "new"), unix.O_WRONLY | unix.O_CREAT}, {"/dev/null", unix.O_RDWR}} {
		fd, err := Open(c.path, c.flags, 0o600)
		if err != nil {
			t.Errorf("Open(%s): %v", c.path, err)
			continue
		}
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		fdfl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || fl&unix.O_NONBLOCK != 0 || fdfl&unix.FD_CLOEXEC == 0 {
			t.Errorf("Open(%s): flags %#x, fd flags %#x, %v; want blocking and close-on-exec", c.path, fl, fdfl, err)
		}
		unix.Close(fd)
	}
}
