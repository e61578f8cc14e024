package holderproc

import (
	"path/filepath"
	"syscall"
	"testing"
)

// listen returns a listening seqpacket socket at a new path.
func listen(t *testing.T) (int, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "h.sock")
	ln, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(ln) })
	if err := syscall.Bind(ln, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(ln, 8); err != nil {
		t.Fatal(err)
	}
	return ln, path
}

// client is a connection to a holder.
type client struct {
	t  *testing.T
	fd int
}

func dial(t *testing.T, path string) *client {
	t.Helper()
	c, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(c) })
	if err := syscall.Connect(c, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	return &client{t, c}
}

// request sends msg with fds and returns the answer.
func (c *client) request(msg string, fds ...int) string {
	c.t.Helper()
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	if err := syscall.Sendmsg(c.fd, []byte(msg), oob, nil, 0); err != nil {
		c.t.Fatal(err)
	}
	buf := make([]byte, MsgMax)
	n, err := syscall.Read(c.fd, buf)
	if err != nil {
		c.t.Fatal(err)
	}
	return string(buf[:n])
}

// list returns what the holder holds, by name.
func (c *client) list() map[string]int {
	c.t.Helper()
	if err := syscall.Sendmsg(c.fd, []byte("L"), nil, nil, 0); err != nil {
		c.t.Fatal(err)
	}
	got := map[string]int{}
	buf, oob := make([]byte, MsgMax), make([]byte, 64)
	for {
		n, oobn, _, _, err := syscall.Recvmsg(c.fd, buf, oob, syscall.MSG_CMSG_CLOEXEC)
		if err != nil {
			c.t.Fatal(err)
		}
		if n == 1 && buf[0] == 'E' {
			return got
		}
		fds := ParseFDs(oob[:oobn])
		if n < 2 || buf[0] != 'F' || len(fds) != 1 {
			c.t.Fatalf("list: %q with %d descriptors", buf[:n], len(fds))
		}
		got[string(buf[1:n])] = fds[0]
	}
}
