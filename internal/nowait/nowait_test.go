package nowait

import (
	"errors"
	"io/fs"
	"os"
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

// TestReadFile: check sees what the descriptor is before anything is
// read; a FIFO with no writer is refused at once (the test would hang if
// the open or the read waited), a regular file is read whole.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("not regular")
	regular := func(fi fs.FileInfo) error {
		if !fi.Mode().IsRegular() {
			return refuse
		}
		return nil
	}
	if b, err := ReadFile(fifo, 0, regular); err != refuse {
		t.Errorf("FIFO: %q, %v; want the check's error", b, err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("A=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(file, 0, regular); err != nil || string(b) != "A=1\n" {
		t.Errorf("regular file: %q, %v", b, err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(link, unix.O_NOFOLLOW, regular); !errors.Is(err, unix.ELOOP) {
		t.Errorf("symbolic link with O_NOFOLLOW: %v; want ELOOP", err)
	}
}
