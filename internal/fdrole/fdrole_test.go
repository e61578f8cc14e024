package fdrole

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestAdd(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "seg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "gone"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()

	r := Roles{}
	r.Add(f, "segment")
	r.Add(ln, "listener")
	r.Add(closed, "closed") // its number may be anyone's by now
	if len(r) != 2 || r[int(f.Fd())] != "segment" {
		t.Fatalf("roles %v; want the file (fd %d) and the open listener", r, f.Fd())
	}
	for fd, role := range r {
		link, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		if role == "listener" && !strings.HasPrefix(link, "socket:") {
			t.Errorf("listener is fd %d, which is %q", fd, link)
		}
	}
}
